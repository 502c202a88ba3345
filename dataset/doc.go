// Package dataset is the data pipeline: list files, train/validation split,
// decoding any image to RGB, augmentation, a parallel batch loader and a
// data-quality scan.
//
// # Contract
//
//	ReadList(listPath, root, numClasses) ([]Sample, warnings, error) // strict: "NAME<TAB>LABEL" lines
//	ParseList(listPath, root, numClasses) (samples, problems, warnings, error) // lenient (datacheck)
//	ListImages(dir) ([]Sample, error)                                 // unlabelled folder, Label -1, sorted
//	Split(samples, valRatio, seed) (train, val)                       // stratified, reproducible
//	NewSplitSource(list, root, valRatio, seed); SplitSource.Mismatch  // what a split is made from
//	SaveSplit(path, src, train, val) / LoadSplit(path, root)          // split.json beside the run, names relative to root
//	DecodeBytes(data, DecodeOptions) (*image.RGBA, Info, error)        // any format -> 8-bit RGB, A=255
//	DefaultConfig() Config; Config.Validate(); Config.DecodeOptions()  // the `data:` YAML section
//	TrainTransform(AugmentConfig, crop, Normalize) / EvalTransform(resizeShorter, crop, Normalize)
//	Transform.Apply(dst []float32, img image.Image, rng *rand.Rand)    // [H, W, 3] float32
//	Transform.WithSteps([]preprocess.StepConfig) (Transform, error)    // data.preprocess steps first
//	NewLoader(samples, Transform, LoaderOptions) *Loader
//	Loader.Epoch(ctx, epoch) <-chan Batch; Loader.EpochFrom(ctx, epoch, Batch.End) // continue an epoch, any batch size
//	Loader.Release(Batch); Loader.Order(epoch); Loader.SampleRNG(epoch, i)
//	Scan(samples, DecodeOptions, workers) []FileReport; ScanList(...) (*Report, error) // cmd/datacheck
//
// Images leave the loader as Batch.Images, [Size, H, W, 3] float32,
// channels-last, normalised with Normalize: ((pixel/255)*Scale - Mean[c]) /
// Std[c], in BGR order when Normalize.BGR is set. Batch.Labels is [Size]
// int32. Epoch returns a channel that is closed after the last batch; cancel
// ctx to stop early. Batches are full except possibly the last (DropLast
// drops it); an unreadable file is passed to OnBad and skipped, the batch
// being filled from the following samples.
//
// # Reproducibility
//
// The sample order of an epoch is a pure function of (Seed, epoch), and each
// sample's augmentation RNG a pure function of (Seed, epoch, sample index), so
// the batches do not depend on the number of workers or their scheduling and
// a resumed run reproduces a straight one exactly. Split depends only on
// (seed, labels, list order). testdata/train_transform.golden and
// testdata/autoaugment/draws.golden pin the augmentation's use of the RNG
// (go test -run Golden -update rewrites them).
//
// # Decoding
//
// The format is detected from the content, never the file name: JPEG
// (YCbCr, grey, RGB, Adobe CMYK and YCCK; baseline, progressive and
// arithmetic-coded; decoded by internal/jpeg to the same pixels as
// libjpeg-turbo, i.e. Pillow and OpenCV), PNG (palette, grey, grey+alpha, RGBA,
// 16-bit), GIF (first frame), BMP, TIFF and WebP. Every mode becomes 8-bit RGB.
// Alpha is composited over DecodeOptions.Background (default white; the
// `data.background` config key); PIL's convert("RGB") instead drops alpha,
// which shows whatever colour transparent pixels happen to hold. Adobe CMYK
// is un-inverted by the decoder and converted with PIL's formula
// round((255-c)*(255-k)/255) (checked against Pillow on testdata/cmyk.jpg).
// Lossy WebP is limited-range BT.601, converted with libwebp's formulas
// (golang.org/x/image/webp returns an image.YCbCr that would be read as full
// range: a mean error of 9.5 levels). JPEG EXIF orientation (APP1, tag 0x0112)
// is applied (PIL's Image.open does not, so torchvision pipelines see such
// photos sideways; none of the cat12 files has one). The declared
// width*height is checked against DecodeOptions.MaxPixels (default 100 MP)
// from the header, before any pixel is decoded. Decoding never panics.
//
// # Speed: the crop is planned before decoding
//
// For JPEG files the loader reads the header, draws the crop (so the RNG use
// is the same as for a decoded image) and decodes only what the crop reads:
// the pure-Go path uses internal/jpeg, which runs the inverse DCT, upsampling
// and colour conversion only for the blocks of the region and, in a file with
// one sequential scan, stops after the last MCU row the region needs; with the
// build tag libjpeg (cgo, needs libjpeg-turbo headers: Debian
// libjpeg62-turbo-dev) libjpeg-turbo decodes it with jpeg_skip_scanlines and
// jpeg_crop_scanline (not with data.preprocess steps, which need the whole
// image). Results equal a full decode followed by the transform
// (tests check this), and both decoders give Pillow's pixels exactly
// (internal/jpeg reproduces libjpeg-turbo's arithmetic). One consequence: damage
// after the last row a crop needs goes unnoticed by the loader; datacheck
// decodes everything.
//
// The loader shares the CPU with the training step, so every CPU
// millisecond it spends per image is taken from the model: that is why it
// decodes only what the crop needs and reuses each worker's buffers rather
// than decoding whole images as PIL does. BenchmarkPipelineCat12 reports
// img/s and CPU ms per image (the steadier figure on a shared machine), and
// testdata/bench_pil.py runs the same pipeline with PIL + torchvision for
// comparison; README.md (Performance) has the figures:
//
//	go test ./dataset -run XXX -bench PipelineCat12 -benchtime 2x -cpu 2
//	go test -tags libjpeg ./dataset -run XXX -bench PipelineCat12 -benchtime 3x
//	/usr/bin/python3 dataset/testdata/bench_pil.py --epochs 2
//
// The resampler uses AVX2 kernels when built with GOEXPERIMENT=simd on a CPU
// that has them (checked at start-up), scalar code otherwise; both do the
// same integer arithmetic and are tested for equality with a slow reference.
//
// # Resizing
//
// Resizing is Pillow's Image.resize(size, BILINEAR) bit for bit, the resize
// torchvision's Resize and RandomResizedCrop run on PIL images: the triangle
// filter widened by the downscale factor (antialiasing), weights in 22-bit
// fixed point as Pillow's precompute_coeffs and normalize_coeffs_8bpc, a
// horizontal pass rounded and clipped to 8 bits, then a vertical pass over
// those 8-bit values, rounded and clipped again. Crop+resize is fused: only
// the output window is computed and taps never read outside the crop box,
// which gives the same values as Pillow resizing the cropped image and then
// cropping the window. EvalTransform's sizes are torchvision's (shorter side
// to N, the other int(N*long/short); centre-crop offsets
// int(round((size-crop)/2)), half to even), so its 8-bit values equal
// T.CenterCrop(crop)(T.Resize(N)(img)) on the same decoded image; training's
// random-resized-crop equals torchvision's resized_crop for the same box, and
// the flip is applied after the resize, as RandomHorizontalFlip.
// TestResizeMatchesPillowGoldens (testdata/resize, from
// make_resize_golden.py), TestResizeMatchesPillowRandom (random cases run
// through Python) and TestEvalVsPillowPhotos check equality with Pillow 9.4 /
// torchvision 0.14; weights' TestImageNetFromPILPixels checks
// that on PIL's decoded cat12 photos the ImageNet model's inputs equal
// PyTorch's exactly.
package dataset
