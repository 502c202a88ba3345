// Copyright 2026 The gocls Authors. SPDX-License-Identifier: Apache-2.0

package ops

// winograd: 3x3, stride-1 float32 convolutions by Winograd's minimal filtering F(4x4, 3x3) (Lavin & Gray,
// "Fast Algorithms for Convolutional Neural Networks", 2015), on top of fastConv's plan and micro-kernels.
//
// The output is cut into 4x4 tiles; tile t reads a 6x6 input patch d (stride 4 between tiles). With the
// transforms V = Bᵀ d B (per input channel), U = G g Gᵀ (per kernel pair c, k), both 6x6, the output tile is
// Aᵀ M A with M[ξ] = sum_c V[ξ][t][c] * U[ξ][c][k] for each of the 36 positions ξ: 36 matrix products
// (tiles x C) times (C x K), 36 multiply-adds per 16 outputs instead of 9*16, run by the packed
// micro-kernels of fastConv (V packed as its A panels, U as its B panels).
//
// Work is split into blocks of tiles (and, when there are few, groups of output channels): each worker
// transforms its block's input, runs the 36 products into a scratch M and transforms M into the output,
// all in cache. The kernel transform runs once per call, parallel over input channels.

import (
	"sync"
	"sync/atomic"

	"github.com/gomlx/compute/support/envutil"
	"k8s.io/klog/v2"
)

const (
	wgOut = 4           // output tile side
	wgIn  = wgOut + 2   // input patch side
	wgXi  = wgIn * wgIn // transform positions ξ
	wgL   = 8           // channels per transform vector

	// winogradEnv turns the Winograd path off when false.
	winogradEnv = "GOMLX_WINOGRAD"
)

// winogradOn is GOMLX_WINOGRAD (default true), read once; an unparsable value stops the program.
var winogradOn = func() bool {
	on, err := envutil.ReadBool(winogradEnv, true)
	if err != nil {
		klog.Fatalf("%s: %v", winogradEnv, err)
	}
	return on
}()

// wgFuncs are the Winograd transforms, over wgL channels at a time: input (Bᵀ d B), output (Aᵀ M A),
// kernel (G g Gᵀ), and for the kernel gradient, output gradient (A dy Aᵀ) and weight (Gᵀ D G).
type wgFuncs struct {
	input  func(d, res *[wgXi][wgL]float32)
	output func(m []float32, stride int, res *[wgOut * wgOut][wgL]float32)
	kernel func(g *[9][wgL]float32, res *[wgXi][wgL]float32)
	grad   func(t *[wgOut * wgOut][wgL]float32, res *[wgXi][wgL]float32)
	weight func(d []float32, stride int, res *[9][wgL]float32)
	simd   bool // vectorised (the Go ones are too slow for Winograd to win: used only in tests)
}

// wgFuncsGo are the portable transforms.
var wgFuncsGo = wgFuncs{wgInputTransformGo, wgOutputTransformGo, wgKernelTransformGo, wgGradTransformGo, wgWeightTransformGo,
	false}

// wg are the transforms in use (see wgTransforms).
var wg = wgTransforms(true)

// runConvPlan runs p by Winograd where that applies (see newWinogradPlan), else by fastConv.
func runConvPlan(p *fastConvPlan, in, kern, out []float32, workers int) {
	if w, ok := newWinogradPlan(p, workers); ok {
		w.run(in, kern, out, workers)
		return
	}
	if g, ok := newWinogradGradPlan(p); ok {
		g.run(in, kern, out, workers)
		return
	}
	p.run(in, kern, out, workers)
}

// winogradPlan runs the convolution of its fastConvPlan by F(4x4, 3x3).
type winogradPlan struct {
	*fastConvPlan
	tiles   [2]int // tiles along each output spatial axis
	nTiles  int    // batch * tiles[0] * tiles[1]
	tb      int    // tiles per block, a multiple of fcMR
	kw      int    // output channels per group, a multiple of fcNR
	kGroups int
	// fly: the kernel is transformed block by block inside multiply, as the products use it, instead of
	// once into a U that would not stay in cache.
	fly bool
}

// newWinogradPlan returns the Winograd plan for p, or false where it does not apply (see winogradApplies)
// or is off.
func newWinogradPlan(p *fastConvPlan, workers int) (*winogradPlan, bool) {
	if !winogradOn || !winogradApplies(p) || !winogradWins(p) {
		return nil, false
	}
	return planWinograd(p, workers, wgFly(p)), true
}

// winogradApplies reports whether p is a convolution F(4x4, 3x3) computes: 3x3 kernel, stride 1, no input
// or kernel dilation, not a residue class of a dilated plan, with no epilogue other than those
// applyEpilogue applies.
func winogradApplies(p *fastConvPlan) bool {
	return p.kDim == [2]int{3, 3} && p.stride == [2]int{1, 1} && p.inDil == [2]int{1, 1} && p.kDil == [2]int{1, 1} &&
		p.oStep == [2]int{1, 1} && p.outBase == 0 && (p.epiMask == nil && p.epiA == nil || p.outSC == 1)
}

// winogradWins reports whether F(4x4, 3x3) is faster than fastConv for p, as measured on ResNet50's
// layers (BenchmarkWinogradResNet50, batch 8, 2-core AMD EPYC Zen 5): where both channel counts are at
// least 16, the output has at least one whole tile along each axis (smaller outputs waste most of their
// tile) and, with the AVX-512 micro-kernel, the transformed kernel stays in cache (up to 128x128
// channels: 1.3-2.4x faster; 256 and 512 channels at 14x14 and 7x7 were 0.5-1x). With the AVX2 and Go
// micro-kernels, 256 and 512 channels win too (1-1.3x). Only with the AVX2 transforms (the Go ones are
// about 50x slower).
func winogradWins(p *fastConvPlan) bool {
	return wg.simd && p.cin >= 16 && p.cout >= 16 && p.outDim[0] >= wgOut && p.outDim[1] >= wgOut &&
		(sgemmKernelName != "avx512" || !wgFly(p))
}

// wgFly reports whether p's kernel is to be transformed on the fly: where the transformed kernel
// (36*cin*npad floats) would not stay in cache (over 4 MiB).
func wgFly(p *fastConvPlan) bool { return wgXi*p.cin*p.npad*4 > 4<<20 }

// planWinograd sizes the blocks of p for workers goroutines, with the kernel transformed on the fly if
// fly.
func planWinograd(p *fastConvPlan, workers int, fly bool) *winogradPlan {
	w := &winogradPlan{fastConvPlan: p, fly: fly}
	for d := range 2 {
		w.tiles[d] = (p.outDim[d] + wgOut - 1) / wgOut
	}
	w.nTiles = p.batch * w.tiles[0] * w.tiles[1]
	// Tiles per block: the transformed input and the products of a block (36*tb*(cin+npad) floats) in
	// about half a megabyte, capped so that every worker has a block. Where the kernel is transformed on
	// the fly, once per block, blocks are as large as possible (up to 192 tiles), so that there are few.
	w.tb = (1 << 17) / (wgXi * (p.cin + p.npad)) / fcMR * fcMR
	w.tb = min(max(w.tb, fcMR), 8*fcMR, (w.nTiles+workers*fcMR-1)/(workers*fcMR)*fcMR)
	if w.fly {
		w.tb = min(16*fcMR, (w.nTiles+fcMR-1)/fcMR*fcMR)
	}
	w.tb = max(w.tb, fcMR)
	nBlocks := (w.nTiles + w.tb - 1) / w.tb
	nPanels := p.npad / fcNR
	// Few blocks: split the output channels too, so that every worker has several items.
	groups := 1
	if nBlocks < 3*workers {
		groups = min(nPanels, (3*workers+nBlocks-1)/nBlocks)
	}
	w.kw = (nPanels + groups - 1) / groups * fcNR
	w.kGroups = (p.npad + w.kw - 1) / w.kw
	return w
}

// tile returns the batch index and the top-left output position of tile t.
func (w *winogradPlan) tile(t int) (b, y, x int) {
	x = t % w.tiles[1]
	t /= w.tiles[1]
	return t / w.tiles[0], t % w.tiles[0] * wgOut, x * wgOut
}

// run computes the convolution into out (fully overwritten) with up to workers goroutines.
func (w *winogradPlan) run(in, kern, out []float32, workers int) {
	var u []float32
	if !w.fly {
		u = getFloat32s(wgXi * w.cin * w.npad)
		defer putFloat32s(u)
		w.transformKernel(kern, u, workers)
	}

	nBlocks := (w.nTiles + w.tb - 1) / w.tb
	items := nBlocks * w.kGroups
	workers = max(1, min(workers, items))
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(workers)
	for range workers {
		go func() {
			defer wg.Done()
			v := getFloat32s(wgXi * w.tb * w.cin)
			m := getFloat32s(wgXi * w.tb * w.kw)
			defer putFloat32s(v)
			defer putFloat32s(m)
			var ublk []float32
			if w.fly {
				ublk = getFloat32s(wgXi * wgFlyKC * fcNR)
				defer putFloat32s(ublk)
			}
			s := new(wgScratch)
			lastBlk := -1
			for {
				item := int(next.Add(1) - 1)
				if item >= items {
					return
				}
				blk, g := item/w.kGroups, item%w.kGroups
				t0 := blk * w.tb
				rows := min(w.tb, w.nTiles-t0)
				if blk != lastBlk {
					w.transformInput(in, v, t0, rows, s)
					lastBlk = blk
				}
				kLo := g * w.kw
				kHi := min(w.n, kLo+w.kw)
				w.multiply(kern, u, ublk, v, m, rows, kLo, kHi, s)
				w.transformOutput(m, out, t0, rows, kLo, kHi, s)
			}
		}()
	}
	wg.Wait()
}

// transformKernel writes U = G g Gᵀ for every pair (input channel c, output channel k) into u, packed as
// fastConv's B panels: u[((ξ*nPanels + k/NR)*cin + c)*NR + k%NR], zero for k >= n.
func (w *winogradPlan) transformKernel(kern, u []float32, workers int) {
	nPanels := w.npad / fcNR
	parallelForN(workers, w.cin, func(cLo, cHi int) {
		s := new(wgScratch)
		// Input channels innermost: each of the 36 positions is then written sequentially.
		for k0 := 0; k0 < w.npad; k0 += wgL {
			for c := cLo; c < cHi; c++ {
				w.kernelChunk(kern, u[(k0/fcNR*w.cin+c)*fcNR+k0%fcNR:], nPanels*w.cin*fcNR, c, k0, s)
			}
		}
	})
}

// kernelChunk transforms the kernel pairs (c, k0..k0+wgL-1) and writes position ξ of the result to
// dst[ξ*stride:][:wgL].
func (w *winogradPlan) kernelChunk(kern, dst []float32, stride, c, k0 int, s *wgScratch) {
	w.gatherKernel(kern, &s.g, c, k0)
	wg.kernel(&s.g, &s.res)
	_ = dst[(wgXi-1)*stride+wgL-1]
	for xi := range wgXi {
		*(*[wgL]float32)(dst[xi*stride:]) = s.res[xi]
	}
}

// wgScratch holds a worker's transform operands and results (allocated once: the transforms are called
// through function values, so arrays on the stack would escape at every call).
type wgScratch struct {
	g      [9][wgL]float32
	d, res [wgXi][wgL]float32
	out    [wgOut * wgOut][wgL]float32
}

// gatherKernel copies the 3x3 taps of kernel pairs (c, k0..k0+wgL-1) into g[tap][k], zeros for k >= n.
func (w *winogradPlan) gatherKernel(kern []float32, g *[9][wgL]float32, c, k0 int) {
	lanes := min(wgL, w.n-k0)
	for t := range 9 {
		s := c*w.kSI + k0*w.kSO + t/3*w.kSS[0] + t%3*w.kSS[1]
		if lanes == wgL && w.kSO == 1 {
			g[t] = *(*[wgL]float32)(kern[s : s+wgL])
			continue
		}
		g[t] = [wgL]float32{}
		for l := range lanes {
			g[t][l] = kern[s+l*w.kSO]
		}
	}
}

// transformInput writes V = Bᵀ d B for tiles t0..t0+rows-1 into v, packed as fastConv's A panels:
// v[((ξ*panels + r/MR)*cin + c)*MR + r%MR] for the block's tile r; the rows of the last panel past rows are
// zeroed.
func (w *winogradPlan) transformInput(in, v []float32, t0, rows int, s *wgScratch) {
	panels := w.tb / fcMR
	d, res := &s.d, &s.res
	for r := range rows {
		b, y, x := w.tile(t0 + r)
		base := (r/fcMR*w.cin)*fcMR + r%fcMR
		for c0 := 0; c0 < w.cin; c0 += wgL {
			w.gatherInput(in, d, b, y-w.padLow[0], x-w.padLow[1], c0)
			wg.input(d, res)
			lanes := min(wgL, w.cin-c0)
			for xi := range wgXi {
				dst := v[base+(xi*panels*w.cin+c0)*fcMR:]
				_ = dst[(lanes-1)*fcMR]
				for l := range lanes {
					dst[l*fcMR] = res[xi][l]
				}
			}
		}
	}
	if pad := rows % fcMR; pad != 0 {
		p := rows / fcMR
		for xi := range wgXi {
			panel := v[(xi*panels+p)*w.cin*fcMR:][:w.cin*fcMR]
			for c := range w.cin {
				clear(panel[c*fcMR+pad : (c+1)*fcMR])
			}
		}
	}
}

// gatherInput copies the 6x6 patch of input channels c0..c0+wgL-1 with top-left corner (y, x) of batch
// b into d[i*6+j][c], zeros outside the input and for channels past cin.
func (w *winogradPlan) gatherInput(in []float32, d *[wgXi][wgL]float32, b, y, x, c0 int) {
	lanes := min(wgL, w.cin-c0)
	for i := range wgIn {
		yi := y + i
		for j := range wgIn {
			xj := x + j
			if yi < 0 || yi >= w.inDim[0] || xj < 0 || xj >= w.inDim[1] {
				d[i*wgIn+j] = [wgL]float32{}
				continue
			}
			s := b*w.inSB + yi*w.inSS[0] + xj*w.inSS[1] + c0*w.inSC
			if lanes == wgL && w.inSC == 1 {
				d[i*wgIn+j] = *(*[wgL]float32)(in[s : s+wgL])
				continue
			}
			d[i*wgIn+j] = [wgL]float32{}
			for l := range lanes {
				d[i*wgIn+j][l] = in[s+l*w.inSC]
			}
		}
	}
}

// wgFlyKC is the reduction block of a kernel transformed on the fly: its 36 transformed panels
// (36*wgFlyKC*NR floats) stay in L2.
const wgFlyKC = 64

// multiply runs the 36 products M[ξ] = V[ξ] U[ξ] of a block of rows tiles for output channels
// [kLo, kHi) into m[(ξ*tb + r)*kw + k-kLo]: with U read from u, or, if the plan transforms the kernel on
// the fly, transformed from kern block by block into ublk.
func (w *winogradPlan) multiply(kern, u, ublk, v, m []float32, rows, kLo, kHi int, s *wgScratch) {
	nPanels, tPanels, vPanels := w.npad/fcNR, (rows+fcMR-1)/fcMR, w.tb/fcMR
	kcMax := fcKC
	if w.fly {
		kcMax = wgFlyKC
	}
	for np := kLo / fcNR; np < (kHi+fcNR-1)/fcNR; np++ {
		for kb := 0; kb < w.cin; kb += kcMax {
			kc := min(kcMax, w.cin-kb)
			var bp []float32
			var bStride int // between positions ξ
			if !w.fly {
				bp, bStride = u[((np*w.cin)+kb)*fcNR:], nPanels*w.cin*fcNR
			} else {
				for c := kb; c < kb+kc; c++ {
					for k0 := np * fcNR; k0 < (np+1)*fcNR; k0 += wgL {
						w.kernelChunk(kern, ublk[(c-kb)*fcNR+k0%fcNR:], kc*fcNR, c, k0, s)
					}
				}
				bp, bStride = ublk, kc*fcNR
			}
			for xi := range wgXi {
				for tp := range tPanels {
					a := &v[((xi*vPanels+tp)*w.cin+kb)*fcMR]
					sgemmKernel(kc, a, &bp[xi*bStride], &m[(xi*w.tb+tp*fcMR)*w.kw+np*fcNR-kLo], w.kw, kb > 0)
				}
			}
		}
	}
}

// transformOutput writes Aᵀ M A of tiles t0..t0+rows-1, output channels [kLo, kHi), to the output (the
// parts of the tiles inside it), then applies the plan's epilogue to those channels.
func (w *winogradPlan) transformOutput(m, out []float32, t0, rows, kLo, kHi int, s *wgScratch) {
	res := &s.out
	epilogue := w.epiA != nil || w.epiMask != nil
	for r := range rows {
		b, y, x := w.tile(t0 + r)
		ny, nx := min(wgOut, w.outDim[0]-y), min(wgOut, w.outDim[1]-x)
		for k0 := kLo; k0 < kHi; k0 += wgL {
			wg.output(m[r*w.kw+k0-kLo:], w.tb*w.kw, res)
			lanes := min(wgL, kHi-k0)
			for i := range ny {
				for j := range nx {
					off := b*w.outSB + (y+i)*w.outSS[0] + (x+j)*w.outSS[1] + k0*w.outSC
					if lanes == wgL && w.outSC == 1 {
						*(*[wgL]float32)(out[off : off+wgL]) = res[i*wgOut+j]
						continue
					}
					for l := range lanes {
						out[off+l*w.outSC] = res[i*wgOut+j][l]
					}
				}
			}
		}
		if epilogue {
			for i := range ny {
				for j := range nx {
					off := b*w.outSB + (y+i)*w.outSS[0] + (x+j)*w.outSS[1]
					w.applyEpilogue(out[off+kLo:off+kHi], off+kLo, kLo)
				}
			}
		}
	}
}

// wgInputTransformGo is Bᵀ d B over wgL lanes, d and res indexed [i*6+j][lane]; with
// Bᵀ = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1].
func wgInputTransformGo(d, res *[wgXi][wgL]float32) {
	var tmp [wgXi][wgL]float32
	for l := range wgL {
		for j := range wgIn { // columns: tmp = Bᵀ d
			var c [wgIn]float32
			for i := range wgIn {
				c[i] = d[i*wgIn+j][l]
			}
			o := wgInput1D(c)
			for i := range wgIn {
				tmp[i*wgIn+j][l] = o[i]
			}
		}
		for i := range wgIn { // rows: res = tmp B
			var c [wgIn]float32
			for j := range wgIn {
				c[j] = tmp[i*wgIn+j][l]
			}
			o := wgInput1D(c)
			for j := range wgIn {
				res[i*wgIn+j][l] = o[j]
			}
		}
	}
}

// wgInput1D is Bᵀ times one column.
func wgInput1D(d [wgIn]float32) [wgIn]float32 {
	t1, t2 := d[4]-4*d[2], d[3]-4*d[1]
	t3, t4 := d[4]-d[2], 2*(d[3]-d[1])
	return [wgIn]float32{4*d[0] - 5*d[2] + d[4], t1 + t2, t1 - t2, t3 + t4, t3 - t4, 4*d[1] - 5*d[3] + d[5]}
}

// wgOutputTransformGo is Aᵀ M A over wgL lanes, M[ξ] read at m[ξ*stride:], res indexed [i*4+j][lane];
// with Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
func wgOutputTransformGo(m []float32, stride int, res *[wgOut * wgOut][wgL]float32) {
	for l := range wgL {
		var tmp [wgOut][wgIn]float32 // Aᵀ M
		for j := range wgIn {
			var c [wgIn]float32
			for i := range wgIn {
				c[i] = m[(i*wgIn+j)*stride+l]
			}
			o := wgOutput1D(c)
			for i := range wgOut {
				tmp[i][j] = o[i]
			}
		}
		for i := range wgOut {
			o := wgOutput1D(tmp[i])
			for j := range wgOut {
				res[i*wgOut+j][l] = o[j]
			}
		}
	}
}

// wgOutput1D is Aᵀ times one column.
func wgOutput1D(m [wgIn]float32) [wgOut]float32 {
	a, b, c, d := m[1]+m[2], m[1]-m[2], m[3]+m[4], m[3]-m[4]
	return [wgOut]float32{m[0] + a + c, b + 2*d, a + 4*c, b + 8*d + m[5]}
}

// wgKernelTransformGo is G g Gᵀ over wgL lanes, g indexed [i*3+j][lane], res [i*6+j][lane]; with
// G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1].
func wgKernelTransformGo(g *[9][wgL]float32, res *[wgXi][wgL]float32) {
	for l := range wgL {
		var tmp [wgIn][3]float32 // G g
		for j := range 3 {
			o := wgKernel1D([3]float32{g[j][l], g[3+j][l], g[6+j][l]})
			for i := range wgIn {
				tmp[i][j] = o[i]
			}
		}
		for i := range wgIn {
			o := wgKernel1D(tmp[i])
			for j := range wgIn {
				res[i*wgIn+j][l] = o[j]
			}
		}
	}
}

// wgKernel1D is G times one column.
func wgKernel1D(g [3]float32) [wgIn]float32 {
	s, d := g[0]+g[2], g[1]
	return [wgIn]float32{g[0] / 4, -(s + d) / 6, -(s - d) / 6, (g[0]/4 + g[1]/2 + g[2]) / 6, (g[0]/4 - g[1]/2 + g[2]) / 6, g[2]}
}
