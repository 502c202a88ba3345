package preprocess

import (
	"fmt"
	"image"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Step is one configured preprocessing operation on a colour image. Steps
// are deterministic and safe for concurrent use; the input is not modified.
type Step func(*image.RGBA) *image.RGBA

// StepConfig is one entry of a preprocessing list in a config file or in a
// run's model.json: the operation under "op" and its parameters under the
// keys of its Params, e.g. YAML {op: gaussian, ksize: 5}. Values are numbers,
// names, or for matrices a list of rows (or cmd/imgproc's "a,b;c,d" form).
// Missing keys take the operation's defaults.
type StepConfig map[string]any

// Op is an operation with its parameters bound. Gray works on one 8-bit
// channel; colour input goes through Colour when it is set, else through
// Gray after conversion to gray (FromGray: a single-channel result), else
// through Gray channel by channel, as OpenCV filters a 3-channel Mat.
type Op struct {
	Gray     func(*image.Gray) *image.Gray
	Colour   func(*image.RGBA) *image.RGBA
	FromGray bool
	// Float, when set, is the unsaturated result that Gray converts to
	// 8 bits (gradients, frequency filters).
	Float func(*image.Gray) *Plane
}

// Apply runs the operation on any image: single-channel results are
// *image.Gray (so is the result of a per-channel op on gray input), colour
// results *image.RGBA.
func (o Op) Apply(img image.Image) image.Image {
	if o.FromGray || (!isColour(img) && o.Gray != nil) {
		return o.Gray(ToGray(img))
	}
	return o.Step()(ToRGBA(img))
}

// Step returns the operation on colour images, with single-channel results
// replicated into R, G and B.
func (o Op) Step() Step {
	return func(img *image.RGBA) *image.RGBA {
		switch {
		case o.FromGray:
			return GrayToRGBA(o.Gray(Gray(img)))
		case o.Colour != nil:
			return o.Colour(img)
		}
		return PerChannel(img, o.Gray)
	}
}

func isColour(img image.Image) bool {
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		return false
	}
	return true
}

// ParamKind is the type of a parameter's value.
type ParamKind int

const (
	IntParam    ParamKind = iota // an integer
	FloatParam                   // a finite number
	NameParam                    // one of Param.Choices
	MatrixParam                  // rows of numbers, all of one length
)

// Param is one parameter of an operation. Key is both its key in a config
// step and its flag name in cmd/imgproc.
type Param struct {
	Key     string
	Kind    ParamKind
	Default any // int, float64, string or [][]float64, by Kind
	Choices []string
	Help    string
}

// OpDef is an operation that can be a preprocessing step and a cmd/imgproc
// command: its parameters and how it is built from their values.
type OpDef struct {
	Name   string
	Params []Param
	build  func(args) (Op, error)
}

// LookupOp returns the definition of the operation named name; the error
// lists the valid names.
func LookupOp(name string) (*OpDef, error) {
	for i := range Ops {
		if Ops[i].Name == name {
			return &Ops[i], nil
		}
	}
	if why, ok := notSteps[name]; ok {
		return nil, fmt.Errorf("%s is not a preprocessing step (%s); valid operations: %s", name, why, strings.Join(OpNames(), ", "))
	}
	return nil, fmt.Errorf("unknown operation %q (valid: %s)", name, strings.Join(OpNames(), ", "))
}

// notSteps are operations of cmd/imgproc that cannot map a colour image to
// a colour image of the same size, with the reason.
var notSteps = map[string]string{
	"addweighted": "it needs a second image",
	"swap":        "it needs a second image",
	"components":  "its result is a label image",
	"spectrum":    "its result is a frequency spectrum",
	"phase":       "its result is a frequency-domain phase",
}

// OpNames lists the operations in Ops, sorted.
func OpNames() []string {
	names := make([]string, len(Ops))
	for i, d := range Ops {
		names[i] = d.Name
	}
	sort.Strings(names)
	return names
}

// Keys lists the operation's parameter keys.
func (d *OpDef) Keys() []string {
	keys := make([]string, len(d.Params))
	for i, p := range d.Params {
		keys[i] = p.Key
	}
	return keys
}

// Resolve checks c's keys and values against d and returns the complete
// step: "op" plus every parameter, defaults filled in, values normalised
// (int, float64, string or [][]float64).
func (d *OpDef) Resolve(c StepConfig) (StepConfig, error) {
	for k := range c {
		if k != "op" && !slices.Contains(d.Keys(), k) {
			valid := "none"
			if len(d.Params) > 0 {
				valid = strings.Join(d.Keys(), ", ")
			}
			return nil, fmt.Errorf("unknown key %q (valid: %s)", k, valid)
		}
	}
	out := StepConfig{"op": d.Name}
	for _, p := range d.Params {
		v, ok := c[p.Key]
		if !ok {
			out[p.Key] = p.Default
			continue
		}
		val, err := p.convert(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Key, err)
		}
		out[p.Key] = val
	}
	return out, nil
}

// Build validates c (see Resolve) and binds it.
func (d *OpDef) Build(c StepConfig) (Op, error) {
	r, err := d.Resolve(c)
	if err != nil {
		return Op{}, err
	}
	return d.build(args(r))
}

// ParseSteps validates configs and turns each into a Step. Errors are one
// line naming the step (numbered from 1) and its op:
// "preprocess: step 2 (gaussian): ksize must be odd (or 0 with sigma > 0), got 4".
func ParseSteps(cfgs []StepConfig) ([]Step, error) {
	steps := make([]Step, len(cfgs))
	for i, c := range cfgs {
		op, _, err := parseStep(c)
		if err != nil {
			return nil, stepError(i, c, err)
		}
		steps[i] = op.Step()
	}
	return steps, nil
}

// ResolveSteps validates configs and returns them complete (see
// OpDef.Resolve), as a run records them.
func ResolveSteps(cfgs []StepConfig) ([]StepConfig, error) {
	out := make([]StepConfig, len(cfgs))
	for i, c := range cfgs {
		_, r, err := parseStep(c)
		if err != nil {
			return nil, stepError(i, c, err)
		}
		out[i] = r
	}
	return out, nil
}

func stepError(i int, c StepConfig, err error) error {
	msg := strings.TrimPrefix(err.Error(), "preprocess: ")
	if op, ok := c["op"]; ok {
		return fmt.Errorf("preprocess: step %d (%v): %s", i+1, op, msg)
	}
	return fmt.Errorf("preprocess: step %d: %s", i+1, msg)
}

func parseStep(c StepConfig) (Op, StepConfig, error) {
	v, ok := c["op"]
	if !ok {
		return Op{}, nil, fmt.Errorf("missing op (valid: %s)", strings.Join(OpNames(), ", "))
	}
	name, ok := v.(string)
	if !ok {
		return Op{}, nil, fmt.Errorf("op must be a name, got %v (valid: %s)", v, strings.Join(OpNames(), ", "))
	}
	d, err := LookupOp(name)
	if err != nil {
		return Op{}, nil, err
	}
	r, err := d.Resolve(c)
	if err != nil {
		return Op{}, nil, err
	}
	op, err := d.build(args(r))
	return op, r, err
}

// Chain composes steps left to right into one Step (identity when empty).
func Chain(steps []Step) Step {
	return func(img *image.RGBA) *image.RGBA {
		for _, s := range steps {
			img = s(img)
		}
		return img
	}
}

// convert checks a config value (from YAML, JSON, a Go literal or a
// command-line string) and returns it normalised for p.Kind.
func (p Param) convert(v any) (any, error) {
	if s, ok := v.(string); ok && p.Kind != NameParam {
		return p.Parse(s)
	}
	switch p.Kind {
	case IntParam:
		f, ok := number(v)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<31 {
			return nil, fmt.Errorf("want an integer, got %v", v)
		}
		return int(f), nil
	case FloatParam:
		if f, ok := number(v); ok {
			return f, nil
		}
		return nil, fmt.Errorf("want a number, got %v", v)
	case NameParam:
		s, ok := v.(string)
		if !ok || !slices.Contains(p.Choices, s) {
			return nil, fmt.Errorf("unknown value %v (valid: %s)", v, strings.Join(p.Choices, ", "))
		}
		return s, nil
	}
	return matrix(v)
}

// Parse reads a value from its command-line form: "5", "1.5", "gaussian",
// "0,-1,0;-1,5,-1;0,-1,0".
func (p Param) Parse(s string) (any, error) {
	s = strings.TrimSpace(s)
	switch p.Kind {
	case IntParam:
		i, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("want an integer, got %q", s)
		}
		return p.convert(i)
	case FloatParam:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("want a finite number, got %q", s)
		}
		return f, nil
	case NameParam:
		return p.convert(s)
	}
	var rows [][]float64
	for _, r := range strings.Split(s, ";") {
		var row []float64
		for _, f := range strings.Split(r, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				return nil, fmt.Errorf("bad matrix value %q (want rows separated by ';', values by ',')", f)
			}
			row = append(row, v)
		}
		rows = append(rows, row)
	}
	return matrix(rows)
}

// Format writes a value in its command-line form (see Parse).
func (p Param) Format(v any) string {
	m, ok := v.([][]float64)
	if !ok {
		return fmt.Sprint(v)
	}
	rows := make([]string, len(m))
	for i, r := range m {
		vals := make([]string, len(r))
		for j, x := range r {
			vals[j] = strconv.FormatFloat(x, 'g', -1, 64)
		}
		rows[i] = strings.Join(vals, ",")
	}
	return strings.Join(rows, ";")
}

// number accepts the numeric types YAML and JSON decoders produce.
func number(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint64:
		f = float64(x)
	case float64:
		f = x
	default:
		return 0, false
	}
	return f, !math.IsInf(f, 0) && !math.IsNaN(f)
}

// matrix accepts [][]float64 or a decoded list of lists of numbers.
func matrix(v any) ([][]float64, error) {
	var rows [][]float64
	switch x := v.(type) {
	case [][]float64:
		for _, r := range x {
			rows = append(rows, slices.Clone(r))
		}
	case []any:
		for _, r := range x {
			list, ok := r.([]any)
			if !ok {
				return nil, fmt.Errorf("want a list of rows, got row %v", r)
			}
			row := make([]float64, len(list))
			for j, e := range list {
				f, ok := number(e)
				if !ok {
					return nil, fmt.Errorf("want numbers, got %v", e)
				}
				row[j] = f
			}
			rows = append(rows, row)
		}
	default:
		return nil, fmt.Errorf("want a list of rows, got %v", v)
	}
	if len(rows) == 0 || len(rows[0]) == 0 {
		return nil, fmt.Errorf("want a non-empty matrix")
	}
	for i, r := range rows {
		if len(r) != len(rows[0]) {
			return nil, fmt.Errorf("row %d has %d values, want %d", i+1, len(r), len(rows[0]))
		}
		for _, f := range r {
			if math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, fmt.Errorf("values must be finite, got %v", f)
			}
		}
	}
	if len(rows) > maxKsize || len(rows[0]) > maxKsize {
		return nil, fmt.Errorf("at most %d rows and columns", maxKsize)
	}
	return rows, nil
}

// args are resolved parameter values (see OpDef.Resolve).
type args StepConfig

func (a args) int(k string) int            { return a[k].(int) }
func (a args) float(k string) float64      { return a[k].(float64) }
func (a args) name(k string) string        { return a[k].(string) }
func (a args) matrix(k string) [][]float64 { return a[k].([][]float64) }

// ParseAdaptiveMethod maps "mean" and "gaussian" to an AdaptiveMethod.
func ParseAdaptiveMethod(s string) (AdaptiveMethod, error) {
	switch s {
	case "mean":
		return AdaptiveMean, nil
	case "gaussian":
		return AdaptiveGaussian, nil
	}
	return 0, fmt.Errorf("preprocess: unknown adaptive method %q (want mean or gaussian)", s)
}
