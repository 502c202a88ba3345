package tmpdeps

import (
	_ "github.com/gomlx/compute"
	_ "github.com/gomlx/gomlx/backends/default"
	_ "github.com/gomlx/gomlx/core/graph"
	_ "github.com/gomlx/gomlx/ml/model"
	_ "github.com/gomlx/gomlx/ml/train"
	_ "github.com/gomlx/gomlx/ml/model/checkpoint"
	_ "gopkg.in/yaml.v3"
	_ "github.com/schollz/progressbar/v3"
	_ "gonum.org/v1/plot/plotter"
	_ "gonum.org/v1/plot/vg"
	_ "golang.org/x/image/webp"
	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/draw"
	_ "github.com/nlpodyssey/gopickle/pytorch"
	_ "github.com/stretchr/testify/require"
)
