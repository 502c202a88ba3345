package jpeg

import "errors"

// arithState is the arithmetic decoder (not implemented yet).
type arithState struct{}

func (a *arithState) reset(d *decoder)      {}
func (a *arithState) truncated() bool       { return false }
func (a *arithState) markerPos() int        { return 0 }
func (d *decoder) readDAC(seg []byte) error { return nil }
func (d *decoder) arithBlock(c *component, b *[64]int16) error {
	return errors.New("arithmetic coding not supported")
}
