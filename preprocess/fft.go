package preprocess

import (
	"fmt"
	"image"
	"math"
	"math/bits"
	"math/cmplx"
)

// fftPlan computes 1-D DFTs of one length n: a recursive mixed-radix
// Cooley–Tukey FFT when n factors into 2, 3, 4, 5, 7, 11 and 13, otherwise
// Bluestein's chirp-z algorithm on top of a power-of-two plan.
type fftPlan struct {
	n       int
	factors []int                // radices, nil for Bluestein
	tw      []complex128         // exp(-2πik/n), k < n
	wr      map[int][]complex128 // per radix r: the r×r matrix W_r^(q·s)
	scratch []complex128
	// Bluestein
	sub   *fftPlan
	chirp []complex128 // exp(-iπk²/n)
	bfft  []complex128 // DFT of the conjugate chirp
	buf   []complex128
}

const maxRadix = 13

func factorize(n int) ([]int, bool) {
	var f []int
	for n%4 == 0 {
		f = append(f, 4)
		n /= 4
	}
	for _, r := range []int{2, 3, 5, 7, 11, 13} {
		for n%r == 0 {
			f = append(f, r)
			n /= r
		}
	}
	return f, n == 1
}

func newFFTPlan(n int) *fftPlan {
	p := &fftPlan{n: n}
	if f, ok := factorize(n); ok {
		p.factors = f
		p.tw = make([]complex128, n)
		for k := range p.tw {
			p.tw[k] = cmplx.Rect(1, -2*math.Pi*float64(k)/float64(n))
		}
		p.wr = map[int][]complex128{}
		for _, r := range f {
			w := make([]complex128, r*r)
			for q := 0; q < r; q++ {
				for s := 0; s < r; s++ {
					w[q*r+s] = cmplx.Rect(1, -2*math.Pi*float64((q*s)%r)/float64(r))
				}
			}
			p.wr[r] = w
		}
		p.scratch = make([]complex128, n)
		return p
	}
	m := 1 << bits.Len(uint(2*n-1))
	p.sub = newFFTPlan(m)
	p.chirp = make([]complex128, n)
	for k := 0; k < n; k++ {
		kk := (k * k) % (2 * n) // keeps the angle small and exact
		p.chirp[k] = cmplx.Rect(1, -math.Pi*float64(kk)/float64(n))
	}
	p.bfft = make([]complex128, m)
	p.bfft[0] = cmplx.Conj(p.chirp[0])
	for k := 1; k < n; k++ {
		c := cmplx.Conj(p.chirp[k])
		p.bfft[k], p.bfft[m-k] = c, c
	}
	p.sub.forward(p.bfft)
	p.buf = make([]complex128, m)
	return p
}

// rec computes the DFT of the n values in[0], in[stride], … into out
// (decimation in time over the radices f).
func (p *fftPlan) rec(out, in []complex128, n, stride int, f []int) {
	r := f[0]
	m := n / r
	w := p.wr[r]
	if m == 1 {
		for s := 0; s < r; s++ {
			var sum complex128
			for q := 0; q < r; q++ {
				sum += in[q*stride] * w[q*r+s]
			}
			out[s] = sum
		}
		return
	}
	for q := 0; q < r; q++ {
		p.rec(out[q*m:(q+1)*m], in[q*stride:], m, stride*r, f[1:])
	}
	step := p.n / n // W_n^j = tw[j*step]
	switch r {
	case 2:
		for k := 0; k < m; k++ {
			a, b := out[k], out[m+k]*p.tw[k*step]
			out[k], out[m+k] = a+b, a-b
		}
	case 4:
		for k := 0; k < m; k++ {
			a := out[k]
			b := out[m+k] * p.tw[k*step]
			c := out[2*m+k] * p.tw[2*k*step]
			d := out[3*m+k] * p.tw[3*k*step]
			ac, amc := a+c, a-c
			bd, bmd := b+d, b-d
			bmdi := complex(imag(bmd), -real(bmd)) // -i·(b-d)
			out[k], out[m+k], out[2*m+k], out[3*m+k] = ac+bd, amc+bmdi, ac-bd, amc-bmdi
		}
	default:
		var t [maxRadix]complex128
		for k := 0; k < m; k++ {
			for q := 0; q < r; q++ {
				t[q] = out[q*m+k] * p.tw[q*k*step]
			}
			for s := 0; s < r; s++ {
				sum := t[0]
				for q := 1; q < r; q++ {
					sum += t[q] * w[q*r+s]
				}
				out[s*m+k] = sum
			}
		}
	}
}

// forward computes the unnormalised forward DFT of x (length n) in place.
func (p *fftPlan) forward(x []complex128) {
	if p.n <= 1 {
		return
	}
	if p.factors != nil {
		copy(p.scratch, x)
		p.rec(x, p.scratch, p.n, 1, p.factors)
		return
	}
	a := p.buf
	clear(a)
	for k := 0; k < p.n; k++ {
		a[k] = x[k] * p.chirp[k]
	}
	p.sub.forward(a)
	for k := range a {
		a[k] = cmplx.Conj(a[k] * p.bfft[k])
	}
	p.sub.forward(a) // inverse via conjugation
	inv := complex(1/float64(len(a)), 0)
	for k := 0; k < p.n; k++ {
		x[k] = cmplx.Conj(a[k]) * inv * p.chirp[k]
	}
}

// dft2 transforms c in place along rows then columns; inverse uses the
// conjugation trick and scales by 1/(W·H).
func dft2(c *Complex, inverse bool) {
	w, h := c.W, c.H
	if inverse {
		for i, v := range c.Pix {
			c.Pix[i] = cmplx.Conj(v)
		}
	}
	pr := newFFTPlan(w)
	for y := 0; y < h; y++ {
		pr.forward(c.Pix[y*w : (y+1)*w])
	}
	pc := pr
	if h != w {
		pc = newFFTPlan(h)
	}
	col := make([]complex128, h)
	for x := 0; x < w; x++ {
		for y := 0; y < h; y++ {
			col[y] = c.Pix[y*w+x]
		}
		pc.forward(col)
		for y := 0; y < h; y++ {
			c.Pix[y*w+x] = col[y]
		}
	}
	if inverse {
		s := complex(1/float64(w*h), 0)
		for i, v := range c.Pix {
			c.Pix[i] = cmplx.Conj(v) * s
		}
	}
}

// DFT is the 2-D discrete Fourier transform of a real Plane of any size
// (numpy.fft.fft2, cv::dft with DFT_COMPLEX_OUTPUT): F[v,u] = Σ f[y,x]·
// exp(-2πi(ux/W + vy/H)), unnormalised, zero frequency at [0,0]. [H, W].
func DFT(src *Plane) *Complex {
	c := NewComplex(src.W, src.H)
	for i, v := range src.Pix {
		c.Pix[i] = complex(v, 0)
	}
	dft2(c, false)
	return c
}

// IDFT is the inverse 2-D DFT scaled by 1/(W·H) (numpy.fft.ifft2,
// cv::dft with DFT_INVERSE|DFT_SCALE).
func IDFT(src *Complex) *Complex {
	c := &Complex{W: src.W, H: src.H, Pix: append([]complex128(nil), src.Pix...)}
	dft2(c, true)
	return c
}

// Real returns the real parts of c as a Plane.
func (c *Complex) Real() *Plane {
	p := NewPlane(c.W, c.H)
	for i, v := range c.Pix {
		p.Pix[i] = real(v)
	}
	return p
}

func shifted[T any](w, h int, pix []T, sx, sy int) []T {
	out := make([]T, len(pix))
	for y := 0; y < h; y++ {
		ny := (y + sy) % h
		for x := 0; x < w; x++ {
			out[ny*w+(x+sx)%w] = pix[y*w+x]
		}
	}
	return out
}

// FFTShift moves the zero frequency to the centre (W/2, H/2), like
// numpy.fft.fftshift (correct for odd sizes too).
func FFTShift(c *Complex) *Complex {
	return &Complex{W: c.W, H: c.H, Pix: shifted(c.W, c.H, c.Pix, c.W/2, c.H/2)}
}

// IFFTShift undoes FFTShift (numpy.fft.ifftshift).
func IFFTShift(c *Complex) *Complex {
	return &Complex{W: c.W, H: c.H, Pix: shifted(c.W, c.H, c.Pix, (c.W+1)/2, (c.H+1)/2)}
}

// LogMagnitude returns log(1 + |F|) per element (natural log).
func LogMagnitude(c *Complex) *Plane {
	p := NewPlane(c.W, c.H)
	for i, v := range c.Pix {
		p.Pix[i] = math.Log1p(cmplx.Abs(v))
	}
	return p
}

// Phase returns atan2(imag, real) per element, in (-π, π].
func Phase(c *Complex) *Plane {
	p := NewPlane(c.W, c.H)
	for i, v := range c.Pix {
		p.Pix[i] = math.Atan2(imag(v), real(v))
	}
	return p
}

// PassType selects low-, high- or band-pass filtering.
type PassType int

const (
	LowPass  PassType = iota // keep frequencies within Radius
	HighPass                 // 1 - LowPass(Radius)
	BandPass                 // LowPass(Radius2) · HighPass(Radius)
)

// FilterKind selects the transfer-function profile.
type FilterKind int

const (
	Ideal       FilterKind = iota // hard cut: D <= R
	Gaussian                      // exp(-D²/2R²)
	Butterworth                   // 1 / (1 + (D/R)^(2·Order))
)

// FreqFilter is a centred frequency-domain filter. Radius is the cutoff
// (the inner one for BandPass), Radius2 the outer BandPass cutoff, Order the
// Butterworth order (0 means 2). D is the distance from the centre
// (W/2, H/2) of the shifted spectrum.
type FreqFilter struct {
	Pass    PassType
	Kind    FilterKind
	Radius  float64
	Radius2 float64
	Order   int
}

// ParseFreqFilter builds a FreqFilter from names: pass lowpass|highpass|
// bandpass, kind ideal|gaussian|butterworth.
func ParseFreqFilter(pass, kind string, radius, radius2 float64) (FreqFilter, error) {
	f := FreqFilter{Radius: radius, Radius2: radius2}
	switch pass {
	case "lowpass":
		f.Pass = LowPass
	case "highpass":
		f.Pass = HighPass
	case "bandpass":
		f.Pass = BandPass
		if radius2 <= radius {
			return f, fmt.Errorf("preprocess: bandpass needs radius2 (%g) > radius (%g)", radius2, radius)
		}
	default:
		return f, fmt.Errorf("preprocess: unknown filter %q (want lowpass, highpass or bandpass)", pass)
	}
	switch kind {
	case "ideal":
		f.Kind = Ideal
	case "gaussian":
		f.Kind = Gaussian
	case "butterworth":
		f.Kind = Butterworth
	default:
		return f, fmt.Errorf("preprocess: unknown filter kind %q (want ideal, gaussian or butterworth)", kind)
	}
	if radius <= 0 {
		return f, fmt.Errorf("preprocess: filter radius must be > 0, got %g", radius)
	}
	return f, nil
}

func (f FreqFilter) low(d, r float64) float64 {
	switch f.Kind {
	case Ideal:
		if d <= r {
			return 1
		}
		return 0
	case Gaussian:
		return math.Exp(-d * d / (2 * r * r))
	case Butterworth:
		n := f.Order
		if n <= 0 {
			n = 2
		}
		return 1 / (1 + math.Pow(d/r, float64(2*n)))
	}
	panic("preprocess.FreqFilter: unknown kind")
}

// Mask returns the filter's transfer function on a w×h shifted spectrum.
func (f FreqFilter) Mask(w, h int) *Plane {
	m := NewPlane(w, h)
	cx, cy := float64(w/2), float64(h/2)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			d := math.Hypot(float64(x)-cx, float64(y)-cy)
			var v float64
			switch f.Pass {
			case LowPass:
				v = f.low(d, f.Radius)
			case HighPass:
				v = 1 - f.low(d, f.Radius)
			case BandPass:
				v = f.low(d, f.Radius2) * (1 - f.low(d, f.Radius))
			}
			m.Pix[y*w+x] = v
		}
	}
	return m
}

// FrequencyFilter filters src in the frequency domain: DFT, shift, multiply
// by f.Mask, unshift, inverse DFT; returns the real part as a [H, W] Plane.
func FrequencyFilter(src *image.Gray, f FreqFilter) *Plane {
	s := FFTShift(DFT(PlaneFromGray(src)))
	m := f.Mask(s.W, s.H)
	for i := range s.Pix {
		s.Pix[i] *= complex(m.Pix[i], 0)
	}
	return IDFT(IFFTShift(s)).Real()
}

// SwapAmplitudePhase returns the real parts of IDFT(|A|·e^{i∠B}) and
// IDFT(|B|·e^{i∠A}): the image with a's amplitude and b's phase, and the
// reverse. a and b must have the same size.
func SwapAmplitudePhase(a, b *Plane) (*Plane, *Plane) {
	if a.W != b.W || a.H != b.H {
		panic("preprocess.SwapAmplitudePhase: sizes differ")
	}
	fa, fb := DFT(a), DFT(b)
	ab := NewComplex(a.W, a.H)
	ba := NewComplex(a.W, a.H)
	for i := range fa.Pix {
		ab.Pix[i] = cmplx.Rect(cmplx.Abs(fa.Pix[i]), cmplx.Phase(fb.Pix[i]))
		ba.Pix[i] = cmplx.Rect(cmplx.Abs(fb.Pix[i]), cmplx.Phase(fa.Pix[i]))
	}
	return IDFT(ab).Real(), IDFT(ba).Real()
}
