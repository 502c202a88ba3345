package preprocess

// Convention is the input convention a set of weights was trained with: it travels with the weights
// (weights.Set, a run's model.json) and tells the loader how to resize, crop and normalise.
//
// A pixel p in [0,255] of channel c becomes (p/255*Scale - Mean[c]) / Std[c], with the channels in
// BGR order when BGR is set (Mean and Std are then given in BGR order too). Images are resized so
// that their short side is Resize, then centre-cropped to Crop x Crop.
type Convention struct {
	Mean   [3]float32 `json:"mean" yaml:"mean"`
	Std    [3]float32 `json:"std" yaml:"std"`
	Scale  float32    `json:"scale" yaml:"scale"` // pixel/255*Scale
	BGR    bool       `json:"bgr" yaml:"bgr"`
	Resize int        `json:"resize" yaml:"resize"`
	Crop   int        `json:"crop" yaml:"crop"`
}

// TorchvisionImageNet is the convention of torchvision's ImageNet weights: RGB in [0,1], normalised
// with the ImageNet mean and standard deviation, resize 256, centre crop 224.
var TorchvisionImageNet = Convention{
	Mean:   [3]float32{0.485, 0.456, 0.406},
	Std:    [3]float32{0.229, 0.224, 0.225},
	Scale:  1,
	Resize: 256,
	Crop:   224,
}

// KerasCaffeImageNet is the "caffe" convention of keras.applications ResNet50 weights: BGR in
// [0,255] with the ImageNet mean (in BGR order) subtracted and no scaling, resize 256, centre crop 224.
var KerasCaffeImageNet = Convention{
	Mean:   [3]float32{103.939, 116.779, 123.68}, // BGR order.
	Std:    [3]float32{1, 1, 1},
	Scale:  255,
	BGR:    true,
	Resize: 256,
	Crop:   224,
}
