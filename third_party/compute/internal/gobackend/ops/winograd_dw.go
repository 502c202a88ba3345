// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

// The kernel gradient of a 3x3 stride-1 convolution by Winograd F(3x3, 4x4), the transpose of the
// forward algorithm (see winograd.go).
//
// GoMLX's autodiff emits it as a ConvGeneral whose output is 3x3 and whose "kernel" is the output
// gradient dy: dW[c, k, u, v] = sum_b sum_{y, x} in[b, u+y-pad, v+x-pad, c] * dy[b, y, x, k]. Cutting dy
// into 4x4 tiles, each reading a 6x6 input patch d, the forward identity y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A
// gives, by linearity, dW = Gᵀ D G with D[ξ] = sum over tiles of (Bᵀ d B)[ξ] (A dy Aᵀ)[ξ]: 36 products
// (C x tiles) times (tiles x K), reduced over every tile of the batch.
//
// In the plan of that convolution, fastConvPlan's "batch" is the input channel c, its "input channel"
// the batch b (the reduction), its kernel the output gradient, its output the 3x3 kernel gradient.
// The tiles are split among the workers, which transform blocks of them (input patches and dy tiles,
// packed as fastConv's A and B panels) and add their 36 products into their own sums.

// winogradGradPlan computes the kernel gradient convolution of its fastConvPlan by F(3x3, 4x4).
type winogradGradPlan struct {
	*fastConvPlan
	tiles  [2]int // dy tiles along each spatial axis
	nTiles int    // batch * tiles[0] * tiles[1]: the reduction
	cpad   int    // p.batch (the channels c) rounded up to fcMR
}

// newWinogradGradPlan returns the F(3x3, 4x4) plan for p, or false where it does not apply, does not win
// or is off.
func newWinogradGradPlan(p *fastConvPlan) (*winogradGradPlan, bool) {
	if !winogradOn || !winogradGradApplies(p) || !winogradGradWins(p) {
		return nil, false
	}
	return planWinogradGrad(p), true
}

// winogradGradApplies reports whether p is a convolution F(3x3, 4x4) computes: 3x3 output, stride 1, no
// dilation, a kernel (dy) of at least 4x4, not a residue class, no epilogue.
func winogradGradApplies(p *fastConvPlan) bool {
	return p.outDim == [2]int{3, 3} && p.kDim[0] >= wgOut && p.kDim[1] >= wgOut && p.stride == [2]int{1, 1} &&
		p.inDil == [2]int{1, 1} && p.kDil == [2]int{1, 1} && p.oStep == [2]int{1, 1} && p.outBase == 0 &&
		p.epiA == nil && p.epiMask == nil
}

// winogradGradWins reports whether F(3x3, 4x4) is faster than fastConv for p (measured on ResNet50's
// layers, see BenchmarkWinogradResNet50): for 16 to 128 channels in and out. With more, each worker's sum
// D (36*C*K floats) leaves the cache, and those layers have few tiles (14x14 and smaller). Only with the
// AVX2 transforms, as winogradWins.
func winogradGradWins(p *fastConvPlan) bool {
	return wg.simd && p.batch >= 16 && p.cout >= 16 && p.batch <= 128 && p.cout <= 128
}

// planWinogradGrad sizes the plan of p.
func planWinogradGrad(p *fastConvPlan) *winogradGradPlan {
	g := &winogradGradPlan{fastConvPlan: p}
	for d := range 2 {
		g.tiles[d] = (p.kDim[d] + wgOut - 1) / wgOut
	}
	g.nTiles = p.cin * g.tiles[0] * g.tiles[1]
	g.cpad = (p.batch + fcMR - 1) / fcMR * fcMR
	return g
}

// wgGradTB is the number of tiles a worker transforms and multiplies at a time (its transformed input
// and output gradient, 36*wgGradTB*(cpad+npad) floats, stay in L2 for 64 channels).
const wgGradTB = 64

// run computes the kernel gradient into out (fully overwritten) with up to workers goroutines: each
// worker sums the products of its blocks of tiles into its own D, the Ds are added, and D is transformed
// into the output.
func (g *winogradGradPlan) run(in, dy, out []float32, workers int) {
	blocks := (g.nTiles + wgGradTB - 1) / wgGradTB
	workers = max(1, min(workers, blocks))
	results := make([][]float32, workers)
	parallelForN(workers, workers, func(wLo, wHi int) {
		for w := wLo; w < wHi; w++ {
			v := getFloat32s(wgXi * wgGradTB * g.cpad) // [ξ][c/MR][tile][c%MR]
			y := getFloat32s(wgXi * wgGradTB * g.npad) // [ξ][k/NR][tile][k%NR]
			d := getFloat32s(wgXi * g.cpad * g.npad)   // [ξ][c][k], fully written by the first block
			s := new(wgScratch)
			for blk := w * blocks / workers; blk < (w+1)*blocks/workers; blk++ {
				t0 := blk * wgGradTB
				n := min(wgGradTB, g.nTiles-t0)
				for t := range n {
					g.transformInputTile(in, v, t0+t, t, n, s)
					g.transformGradTile(dy, y, t0+t, t, n, s)
				}
				g.multiply(v, y, d, n, blk == w*blocks/workers)
			}
			results[w] = d
			putFloat32s(v)
			putFloat32s(y)
		}
	})
	d := results[0]
	for _, r := range results[1:] {
		for i, x := range r {
			d[i] += x
		}
		putFloat32s(r)
	}
	parallelForN(workers, g.batch, func(lo, hi int) {
		var res [9][wgL]float32
		for c := lo; c < hi; c++ {
			g.transformOutput(d, out, c, &res)
		}
	})
	putFloat32s(d)
}

// tile returns the batch index and the top-left dy position of tile t.
func (g *winogradGradPlan) tile(t int) (b, y, x int) {
	x = t % g.tiles[1]
	t /= g.tiles[1]
	return t / g.tiles[0], t % g.tiles[0] * wgOut, x * wgOut
}

// transformInputTile writes Bᵀ d B of the input patch of tile t, for every channel c, to
// v[((ξ*cpad/MR + c/MR)*n + tl)*MR + c%MR], tl being t's row in a block of n tiles. Channels past p.batch
// (up to cpad) are left as they are: they only reach rows of the products that are never read.
func (g *winogradGradPlan) transformInputTile(in, v []float32, t, tl, n int, s *wgScratch) {
	b, y0, x0 := g.tile(t)
	y0, x0 = y0-g.padLow[0], x0-g.padLow[1]
	cPanels := g.cpad / fcMR
	for c0 := 0; c0 < g.batch; c0 += wgL {
		lanes := min(wgL, g.batch-c0)
		for i := range wgIn {
			for j := range wgIn {
				row := &s.d[i*wgIn+j]
				yi, xj := y0+i, x0+j
				if yi < 0 || yi >= g.inDim[0] || xj < 0 || xj >= g.inDim[1] {
					*row = [wgL]float32{}
					continue
				}
				src := b*g.inSC + yi*g.inSS[0] + xj*g.inSS[1] + c0*g.inSB
				if lanes == wgL && g.inSB == 1 {
					*row = *(*[wgL]float32)(in[src : src+wgL])
					continue
				}
				*row = [wgL]float32{}
				for l := range lanes {
					row[l] = in[src+l*g.inSB]
				}
			}
		}
		wg.input(&s.d, &s.res)
		for xi := range wgXi {
			for l := range lanes {
				c := c0 + l
				v[((xi*cPanels+c/fcMR)*n+tl)*fcMR+c%fcMR] = s.res[xi][l]
			}
		}
	}
}

// transformGradTile writes A dy Aᵀ of the 4x4 dy tile t (zeros past dy's edges), for every output channel
// k < npad, to y[((ξ*npad/NR + k/NR)*n + tl)*NR + k%NR] (as transformInputTile).
func (g *winogradGradPlan) transformGradTile(dy, y []float32, t, tl, n int, s *wgScratch) {
	b, y0, x0 := g.tile(t)
	kPanels := g.npad / fcNR
	for k0 := 0; k0 < g.npad; k0 += wgL {
		lanes := max(0, min(wgL, g.n-k0))
		for i := range wgOut {
			for j := range wgOut {
				row := &s.out[i*wgOut+j]
				yi, xj := y0+i, x0+j
				if yi >= g.kDim[0] || xj >= g.kDim[1] || lanes == 0 {
					*row = [wgL]float32{}
					continue
				}
				src := b*g.kSI + yi*g.kSS[0] + xj*g.kSS[1] + k0*g.kSO
				if lanes == wgL && g.kSO == 1 {
					*row = *(*[wgL]float32)(dy[src : src+wgL])
					continue
				}
				*row = [wgL]float32{}
				for l := range lanes {
					row[l] = dy[src+l*g.kSO]
				}
			}
		}
		wg.grad(&s.out, &s.res)
		base := ((k0/fcNR)*n+tl)*fcNR + k0%fcNR
		for xi := range wgXi {
			*(*[wgL]float32)(y[base+xi*kPanels*n*fcNR:]) = s.res[xi]
		}
	}
}

// multiply adds (sets if first) to d[ξ][c][k] the sum over a block of n tiles of V[ξ][tile][c] Y[ξ][tile][k].
func (g *winogradGradPlan) multiply(v, y, d []float32, n int, first bool) {
	cPanels, kPanels := g.cpad/fcMR, g.npad/fcNR
	for xi := range wgXi {
		for kp := range kPanels {
			b := &y[(xi*kPanels+kp)*n*fcNR]
			for cp := range cPanels {
				sgemmKernel(n, &v[(xi*cPanels+cp)*n*fcMR], b, &d[(xi*g.cpad+cp*fcMR)*g.npad+kp*fcNR], g.npad, !first)
			}
		}
	}
}

// transformOutput writes Gᵀ D G of channel c, for every output channel, to the 3x3 output.
func (g *winogradGradPlan) transformOutput(d, out []float32, c int, res *[9][wgL]float32) {
	for k0 := 0; k0 < g.n; k0 += wgL {
		wg.weight(d[c*g.npad+k0:], g.cpad*g.npad, res)
		lanes := min(wgL, g.n-k0)
		for u := range 3 {
			for w := range 3 {
				off := c*g.outSB + u*g.outSS[0] + w*g.outSS[1] + k0*g.outSC
				if lanes == wgL && g.outSC == 1 {
					*(*[wgL]float32)(out[off : off+wgL]) = res[u*3+w]
					continue
				}
				for l := range lanes {
					out[off+l*g.outSC] = res[u*3+w][l]
				}
			}
		}
	}
}

// wgGradTransformGo is A t Aᵀ over wgL lanes for a 4x4 tile t ([i*4+j][lane]) into res ([i*6+j][lane]),
// with A the transpose of the forward Aᵀ (see wgOutputTransformGo).
func wgGradTransformGo(t *[wgOut * wgOut][wgL]float32, res *[wgXi][wgL]float32) {
	for l := range wgL {
		var tmp [wgIn][wgOut]float32 // A t
		for j := range wgOut {
			o := wgGrad1D([wgOut]float32{t[j][l], t[wgOut+j][l], t[2*wgOut+j][l], t[3*wgOut+j][l]})
			for i := range wgIn {
				tmp[i][j] = o[i]
			}
		}
		for i := range wgIn {
			o := wgGrad1D(tmp[i])
			for j := range wgIn {
				res[i*wgIn+j][l] = o[j]
			}
		}
	}
}

// wgGrad1D is A times one column of 4.
func wgGrad1D(g [wgOut]float32) [wgIn]float32 {
	e, o := g[0]+g[2], g[1]+g[3]
	e4, o2 := g[0]+4*g[2], 2*g[1]+8*g[3]
	return [wgIn]float32{g[0], e + o, e - o, e4 + o2, e4 - o2, g[3]}
}

// wgWeightTransformGo is Gᵀ D G over wgL lanes, D[ξ] read at d[ξ*stride:], into res ([u*3+v][lane]), with
// G the forward kernel transform's (see wgKernelTransformGo).
func wgWeightTransformGo(d []float32, stride int, res *[9][wgL]float32) {
	for l := range wgL {
		var tmp [3][wgIn]float32 // Gᵀ D
		for j := range wgIn {
			var c [wgIn]float32
			for i := range wgIn {
				c[i] = d[(i*wgIn+j)*stride+l]
			}
			o := wgWeight1D(c)
			for i := range 3 {
				tmp[i][j] = o[i]
			}
		}
		for i := range 3 {
			o := wgWeight1D(tmp[i])
			for j := range 3 {
				res[i*3+j][l] = o[j]
			}
		}
	}
}

// wgWeight1D is Gᵀ times one column of 6.
func wgWeight1D(h [wgIn]float32) [3]float32 {
	s12, d12 := h[1]+h[2], h[2]-h[1]
	s34, d34 := h[3]+h[4], h[3]-h[4]
	return [3]float32{h[0]/4 - s12/6 + s34/24, d12/6 + d34/12, -s12/6 + s34/6 + h[5]}
}
