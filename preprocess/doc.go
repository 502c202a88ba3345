// Package preprocess implements OpenCV 4 image operations in pure Go on the
// standard library's image types, matching OpenCV's results (see the tests
// against OpenCV 4.6 golden files in testdata/).
//
// Types: 8-bit single-channel images are *image.Gray; colour images are
// *image.RGBA in R, G, B order (alpha is carried through, not used); float
// results are *Plane ([H, W] float64) and DFTs *Complex ([H, W] complex128).
// Multi-channel filtering is per channel (PerChannel, Split, Merge), as
// OpenCV does on a 3-channel Mat; bilateral filtering has a true colour
// version (BilateralFilterRGBA). Inputs with any origin or stride are
// accepted; results start at (0, 0).
//
// Accuracy: every 8-bit operation with an OpenCV counterpart reproduces
// OpenCV 4.6's arithmetic (fixed-point tables, float32 order of operations,
// fused multiply-adds of its AVX2 paths, round half to even) and equals
// cv2's output on the golden photos bit for bit; float outputs agree to
// better than 1e-5 relative error. Known differences: filter2D with kernels
// of 11×11 and larger (OpenCV switches to a DFT) and bilateral filtering
// (OpenCV's vector summation order) may differ by one grey level on other
// images; IterativeThreshold, MaxEntropyThreshold, the frequency-domain
// filters and SwapAmplitudePhase have no OpenCV function and follow the
// definitions in their doc comments (checked against numpy).
//
// Errors: invalid arguments to the image functions (an even median ksize,
// images of different sizes, an unknown enum value) are programmer errors
// and panic, as in the standard image packages. Validate user input with
// ParseSteps and the Parse* helpers, which return wrapped errors.
//
// Conventions (OpenCV defaults): borders are BORDER_REFLECT_101 except
// MedianBlur (BORDER_REPLICATE, as cv::medianBlur), AdaptiveThreshold
// (BORDER_REPLICATE, as cv::adaptiveThreshold) and morphology (pixels
// outside the image are ignored); 8-bit results round half to even and
// saturate (saturate_cast), except GaussianBlur, which reproduces OpenCV's
// bit-exact fixed-point path.
//
// Operations:
//
//	colour     Gray, SwapRB, HSV, HLS, Lab, Split, Merge, ToRGBA, ToGray
//	filters    Filter2D, Filter2DFloat, SepFilterFloat, Blur, GaussianBlur,
//	           MedianBlur, BilateralFilter, BilateralFilterRGBA
//	thresholds Threshold, Otsu, IterativeThreshold, MaxEntropyThreshold,
//	           AdaptiveThreshold
//	gradients  Sobel, Laplacian, AddWeighted, ConvertScaleAbs
//	morphology StructuringElement, Erode, Dilate, MorphologyEx
//	components ConnectedComponents (labels, areas, boxes, Largest)
//	frequency  DFT, IDFT, FFTShift, IFFTShift, LogMagnitude, Phase,
//	           FreqFilter, FrequencyFilter, SwapAmplitudePhase
//	files      WriteNPY
//
// # Operations as steps and commands
//
// Ops is the one table of the operations that are both cmd/imgproc
// commands and training preprocessing steps: each OpDef names its
// parameters (Param: key, kind, default, valid names), and the key is both
// the config key and the command's flag. A config lists steps as
// StepConfig maps, e.g. the training config's
//
//	data:
//	  preprocess:
//	    - {op: gaussian, ksize: 5}
//	    - {op: cvtcolor, code: hsv}
//	    - {op: morph, morph: open, shape: ellipse, ksize: 5}
//
// ParseSteps validates them and returns one Step
// (func(*image.RGBA) *image.RGBA) per entry; Chain composes them;
// ResolveSteps returns them with every parameter spelled out, as a run
// records them in its model.json:
//
//	steps, err := preprocess.ParseSteps(cfg.Preprocess)
//	if err != nil { return err } // "preprocess: step 2 (median): ksize must be odd and >= 1, got 4"
//	run := preprocess.Chain(steps)
//	out := run(preprocess.ToRGBA(decoded))
//
// Errors are one line naming the step (numbered from 1), its op and, for an
// unknown op, key or name, the valid ones. OpDef.Build binds one op for
// other uses (Op.Apply keeps gray input gray, as the command writes it).
// docs/CONFIG.md lists the ops with their keys and defaults. Thresholds,
// gradients and the frequency filter work on the gray image and a Step
// replicates their result into R, G, B; colour conversions and bilateral
// filtering work on the colour image; the other filters per channel. Steps
// are deterministic; random augmentation belongs to the caller.
package preprocess
