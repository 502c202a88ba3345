package preprocess

import (
	"image"
)

// ComponentStats describes one connected component: its pixel count and
// bounding box (cv::CC_STAT_LEFT/TOP/WIDTH/HEIGHT/AREA).
type ComponentStats struct {
	Area                     int
	Left, Top, Width, Height int
}

// Components is the result of ConnectedComponents. Labels has layout [H, W]:
// 0 is the background, components are 1..Count. Stats[0] is the background.
type Components struct {
	W, H   int
	Labels []int32
	Count  int // number of components, background excluded
	Stats  []ComponentStats
}

// Largest returns the label of the component with the largest area (the
// lowest label on ties), or 0 when there is none.
func (c *Components) Largest() int {
	best := 0
	for l := 1; l <= c.Count; l++ {
		if best == 0 || c.Stats[l].Area > c.Stats[best].Area {
			best = l
		}
	}
	return best
}

// LabelImage renders the labels for viewing: label l becomes
// round(l·255/Count), background 0.
func (c *Components) LabelImage() *image.Gray {
	dst := image.NewGray(image.Rect(0, 0, c.W, c.H))
	if c.Count == 0 {
		return dst
	}
	lut := make([]uint8, c.Count+1)
	for l := 1; l <= c.Count; l++ {
		lut[l] = uint8((l*255*2 + c.Count) / (2 * c.Count))
	}
	for i, l := range c.Labels {
		dst.Pix[i] = lut[l]
	}
	return dst
}

// ConnectedComponents labels the non-zero pixels of src with 4- or
// 8-connectivity (cv::connectedComponentsWithStats). It is iterative (a
// two-pass union-find, no recursion), so any blob size works. Label
// numbering matches OpenCV's default algorithms: for 4-connectivity
// components are numbered in raster order of their first pixel; for
// 8-connectivity (OpenCV's 2×2-block algorithms) in raster order of their
// first 2×2 block. connectivity must be 4 or 8.
func ConnectedComponents(src *image.Gray, connectivity int) *Components {
	if connectivity != 4 && connectivity != 8 {
		panic("preprocess.ConnectedComponents: connectivity must be 4 or 8")
	}
	pix, w, h := grayPix(src)
	labels, u := provisionalLabels(pix, w, h, connectivity)
	var final []int32
	var count int32
	if connectivity == 4 {
		final, count = u.rasterNumbers()
	} else {
		final, count = u.blockNumbers(labels, w, h)
	}
	stats := relabel(labels, w, h, u, final, count)
	return &Components{W: w, H: h, Labels: labels, Count: int(count), Stats: stats}
}

// provisionalLabels is the first raster pass: each foreground pixel gets
// the label of an already-labelled neighbour (left, up, and with
// 8-connectivity up-left and up-right) or a new one; labels that meet are
// merged in u.
func provisionalLabels(pix []uint8, w, h, connectivity int) ([]int32, *unionFind) {
	labels := make([]int32, w*h)
	u := &unionFind{parent: []int32{0}}
	for y := 0; y < h; y++ {
		row := pix[y*w : (y+1)*w]
		lr := labels[y*w : (y+1)*w]
		var up []int32
		if y > 0 {
			up = labels[(y-1)*w : y*w]
		}
		for x, v := range row {
			if v == 0 {
				continue
			}
			var l int32
			if x > 0 {
				l = lr[x-1]
			}
			if up != nil {
				l = u.mergeUp(l, up, x, connectivity == 8)
			}
			if l == 0 {
				l = int32(len(u.parent))
				u.parent = append(u.parent, l)
			}
			lr[x] = l
		}
	}
	return labels, u
}

// mergeUp merges label l with the labelled pixels of the row above that
// touch column x: up[x], and with diagonals up[x-1] and up[x+1].
func (u *unionFind) mergeUp(l int32, up []int32, x int, diagonals bool) int32 {
	if n := up[x]; n != 0 {
		l = u.merge(l, n)
	}
	if !diagonals {
		return l
	}
	if x > 0 {
		if n := up[x-1]; n != 0 {
			l = u.merge(l, n)
		}
	}
	if x+1 < len(up) {
		if n := up[x+1]; n != 0 {
			l = u.merge(l, n)
		}
	}
	return l
}

// rasterNumbers numbers the sets 1..count in the order of their smallest
// provisional label, i.e. of their first pixel in raster order (OpenCV's
// 4-connectivity numbering). final[root] is a set's number.
func (u *unionFind) rasterNumbers() (final []int32, count int32) {
	final = make([]int32, len(u.parent))
	for i := int32(1); i < int32(len(u.parent)); i++ {
		if u.find(i) == i {
			count++
			final[i] = count
		}
	}
	return final, count
}

// blockNumbers numbers the sets in raster order of their first 2×2 block
// (OpenCV's 8-connectivity numbering). final[root] is a set's number.
func (u *unionFind) blockNumbers(labels []int32, w, h int) (final []int32, count int32) {
	final = make([]int32, len(u.parent))
	for i := range final {
		final[i] = -1
	}
	final[0] = 0
	for by := 0; by < h; by += 2 {
		for bx := 0; bx < w; bx += 2 {
			for dy := 0; dy < 2 && by+dy < h; dy++ {
				for dx := 0; dx < 2 && bx+dx < w; dx++ {
					l := labels[(by+dy)*w+bx+dx]
					if l == 0 {
						continue
					}
					if r := u.find(l); final[r] < 0 {
						count++
						final[r] = count
					}
				}
			}
		}
	}
	return final, count
}

// relabel replaces the provisional labels by the final numbers and returns
// each component's area and bounding box (index 0: the background).
func relabel(labels []int32, w, h int, u *unionFind, final []int32, count int32) []ComponentStats {
	stats := make([]ComponentStats, count+1)
	minX := make([]int, count+1)
	minY := make([]int, count+1)
	maxX := make([]int, count+1)
	maxY := make([]int, count+1)
	for i := range minX {
		minX[i], minY[i], maxX[i], maxY[i] = w, h, -1, -1
	}
	for y := 0; y < h; y++ {
		lr := labels[y*w : (y+1)*w]
		for x, l := range lr {
			if l != 0 {
				l = final[u.find(l)]
				lr[x] = l
			}
			stats[l].Area++
			minX[l] = min(minX[l], x)
			maxX[l] = max(maxX[l], x)
			minY[l] = min(minY[l], y)
			maxY[l] = max(maxY[l], y)
		}
	}
	for l := range stats {
		if stats[l].Area > 0 {
			stats[l].Left, stats[l].Top = minX[l], minY[l]
			stats[l].Width, stats[l].Height = maxX[l]-minX[l]+1, maxY[l]-minY[l]+1
		}
	}
	return stats
}

// unionFind is a disjoint-set forest over provisional labels; the root of a
// set is its smallest label.
type unionFind struct{ parent []int32 }

func (u *unionFind) find(x int32) int32 {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

// merge joins the sets of l (0 = none yet) and n (non-zero) and returns a
// label of the union.
func (u *unionFind) merge(l, n int32) int32 {
	if l == 0 || l == n {
		return n
	}
	a, b := u.find(l), u.find(n)
	if a < b {
		u.parent[b] = a
		return a
	}
	if b < a {
		u.parent[a] = b
	}
	return b
}
