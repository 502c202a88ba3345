package dataset

// Pixel batches: with LoaderOptions.Pixels the loader hands out the
// transform's output before normalisation, rounded to uint8 (Batch.Pixels),
// a quarter of the bytes of float32 images to move to an accelerator, which
// normalises them itself with Normalize.Affine.

// Affine returns, per output channel c, out[c] = in[src[c]]*scale[c] +
// offset[c] for pixel values in [0,255]: the normalisation as a graph
// computes it from Batch.Pixels.
func (n Normalize) Affine() (scale, offset [3]float32, src [3]int) { return n.affine() }

// unnormalized is t with an identity normalisation: its output stays in
// [0,255], RGB.
func (t Transform) unnormalized() Transform {
	t.norm = Normalize{Scale: 255}
	return t
}

// quantize rounds values in [0,255] (clamped) to dst.
func quantize(dst []uint8, src []float32) {
	for i, v := range src[:len(dst)] {
		dst[i] = uint8(min(255, max(0, v+0.5)))
	}
}

func (l *Loader) pixelBuffer(n int) []uint8 {
	if p, ok := l.pixPool.Get().(*[]uint8); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]uint8, n)
}
