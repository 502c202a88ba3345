// Package jpeg decodes baseline, extended, progressive and arithmetic-coded
// JPEG files to 8-bit RGB with the same pixels as libjpeg-turbo's default
// decompression (what Pillow's Image.open(f).convert("RGB") and OpenCV's
// imread give): the accurate integer inverse DCT of jidctint.c, libjpeg's
// "fancy" triangle-filter chroma upsampling for 2:1 ratios and box
// upsampling for the others, and its fixed-point YCbCr→RGB tables.
//
// Not reproduced: libjpeg's block smoothing of progressive files whose scans
// leave some of the first AC coefficients unfinished (complete files, the
// usual case, are not smoothed), its recovery from corrupt data (an invalid
// Huffman code or a missing restart marker is an error here), and results
// on coefficients so large that 32-bit intermediates overflow (libjpeg-turbo's
// own SIMD and C paths differ there too).
//
// CMYK and YCCK files are converted the way Pillow does (Adobe-inverted ink
// values, then Pillow's cmyk2rgb); OpenCV uses a different formula.
//
// The decoder can produce only a rectangle of the image (Options.Region):
// entropy decoding still covers the scans, but the inverse DCT, upsampling
// and colour conversion run only for the blocks the rectangle needs, and the
// pixels inside it are the same as those of a full decode.
//
// Every malformed input gives an error, never a panic; the pixel limit is
// checked against the frame header before any image buffer is allocated.
package jpeg
