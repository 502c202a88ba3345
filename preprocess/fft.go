package preprocess

import (
	"fmt"
	"image"
	"math"
	"math/bits"
	"math/cmplx"
)

// fftPlan computes 1-D DFTs of one length: iterative radix-2 for powers of
// two, Bluestein's chirp-z (via a power-of-two FFT) for any other length.
type fftPlan struct {
	n     int
	tw    []complex128 // radix-2 twiddles exp(-2πik/m), k < m/2
	m     int          // radix-2 length (n, or the Bluestein length)
	chirp []complex128 // exp(-iπk²/n), Bluestein only
	bfft  []complex128 // FFT of the conjugate chirp, Bluestein only
	buf   []complex128
}

func newFFTPlan(n int) *fftPlan {
	p := &fftPlan{n: n}
	if n&(n-1) == 0 {
		p.m = n
		p.tw = twiddles(n)
		return p
	}
	m := 1 << bits.Len(uint(2*n-1))
	p.m = m
	p.tw = twiddles(m)
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
	p.radix2(p.bfft)
	p.buf = make([]complex128, m)
	return p
}

func twiddles(m int) []complex128 {
	tw := make([]complex128, m/2)
	for k := range tw {
		tw[k] = cmplx.Rect(1, -2*math.Pi*float64(k)/float64(m))
	}
	return tw
}

// radix2 is an in-place forward FFT of length p.m.
func (p *fftPlan) radix2(x []complex128) {
	m := p.m
	if m <= 1 {
		return
	}
	shift := 64 - bits.Len(uint(m-1))
	for i := 0; i < m; i++ {
		j := int(bits.Reverse64(uint64(i)) >> shift)
		if j > i {
			x[i], x[j] = x[j], x[i]
		}
	}
	for size := 2; size <= m; size <<= 1 {
		half, step := size/2, m/size
		for start := 0; start < m; start += size {
			for k := 0; k < half; k++ {
				t := p.tw[k*step] * x[start+k+half]
				x[start+k+half] = x[start+k] - t
				x[start+k] += t
			}
		}
	}
}

// forward computes the unnormalised forward DFT of x (length n) in place.
func (p *fftPlan) forward(x []complex128) {
	if p.chirp == nil {
		p.radix2(x)
		return
	}
	a := p.buf
	clear(a)
	for k := 0; k < p.n; k++ {
		a[k] = x[k] * p.chirp[k]
	}
	p.radix2(a)
	for k := range a {
		a[k] *= p.bfft[k]
	}
	// Inverse FFT via conjugation.
	for k := range a {
		a[k] = cmplx.Conj(a[k])
	}
	p.radix2(a)
	inv := 1 / float64(p.m)
	for k := 0; k < p.n; k++ {
		x[k] = cmplx.Conj(a[k]) * complex(inv, 0) * p.chirp[k]
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

// DFTComplex is the forward 2-D DFT of a complex image (a new image).
func DFTComplex(src *Complex) *Complex {
	c := &Complex{W: src.W, H: src.H, Pix: append([]complex128(nil), src.Pix...)}
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

// FFTShiftPlane is FFTShift for a real Plane.
func FFTShiftPlane(p *Plane) *Plane {
	return &Plane{W: p.W, H: p.H, Pix: shifted(p.W, p.H, p.Pix, p.W/2, p.H/2)}
}

// IFFTShiftPlane is IFFTShift for a real Plane.
func IFFTShiftPlane(p *Plane) *Plane {
	return &Plane{W: p.W, H: p.H, Pix: shifted(p.W, p.H, p.Pix, (p.W+1)/2, (p.H+1)/2)}
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

// Spectrum is the viewable log-magnitude spectrum of src: log(1+|DFT|),
// shifted so the zero frequency is in the centre, min-max scaled to 0..255.
func Spectrum(src *image.Gray) *image.Gray {
	return LogMagnitude(FFTShift(DFT(PlaneFromGray(src)))).Normalize()
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
