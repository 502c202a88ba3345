// Package dataset is the data pipeline: list files, train/validation split,
// decoding any image to RGB, augmentation and a parallel batch loader.
//
// # Contract
//
//	ReadList(listPath, root, numClasses) ([]Sample, warnings, error) // "NAME<TAB>LABEL" lines
//	ListImages(dir) ([]Sample, error)                                 // unlabelled folder, Label -1
//	Split(samples, valRatio, seed) (train, val)                       // stratified, reproducible
//	SaveSplit(path, train, val) / LoadSplit(path)                     // split.json beside the run
//	DecodeFile(path, DecodeOptions) (*image.RGBA, Info, error)         // any format -> 8-bit RGB, A=255
//	TrainTransform(AugmentConfig, crop, Normalize) / EvalTransform(resizeShorter, crop, Normalize)
//	NewLoader(samples, Transform, LoaderOptions).Epoch(ctx, epoch) <-chan Batch
//	Scan(samples, DecodeOptions, workers) []FileReport                // data-quality scan (cmd/datacheck; in progress)
//
// Images leave the loader as [batch, H, W, 3] float32, channels-last,
// normalised with Normalize: ((pixel/255)*Scale - Mean[c]) / Std[c], in BGR
// order when Normalize.BGR is set. Labels are [batch] int32.
//
// # Decoding
//
// The format is detected from the content, never the file name: JPEG
// (YCbCr, grey, Adobe CMYK and YCCK), PNG (palette, grey, grey+alpha, RGBA,
// 16-bit), GIF (first frame), BMP, TIFF and WebP. Every mode becomes 8-bit RGB.
// Alpha is composited over DecodeOptions.Background (default white; the
// `data.background` config key), which differs from PIL's convert("RGB")
// that simply drops alpha. Adobe CMYK is un-inverted by image/jpeg and then
// converted with PIL's formula round((255-c)*(255-k)/255). JPEG EXIF
// orientation (APP1, tag 0x0112) is applied (PIL's Image.open does not, so
// torchvision pipelines see such photos sideways). The declared width*height is
// checked against DecodeOptions.MaxPixels (default 100 MP) from the header,
// before any pixel is decoded. Errors never panic; in the loader they go to
// LoaderOptions.OnBad and the file is skipped.
//
// # Resizing
//
// Resizing is Pillow's bilinear filter with its antialiasing: when
// downscaling, the triangle filter is widened by the scale factor, exactly as
// Pillow's precompute_coeffs, and crop+resize is fused (only the output window
// is computed, taps never read outside the crop box, as when Pillow resizes a
// cropped image). The residual difference from Pillow is rounding: Pillow
// works in 22-bit fixed point and rounds to uint8 after each of its two
// passes, this package keeps float32 throughout and never rounds.
//
// # Reproducibility
//
// The sample order of an epoch is a pure function of (Seed, epoch), and each
// sample's augmentation RNG a pure function of (Seed, epoch, sample index), so
// the batches do not depend on the number of workers or their scheduling and
// a resumed run reproduces a straight one exactly. Split depends only on
// (seed, labels, list order).
package dataset
