package main

import (
	"flag"
	"image"
	"io"
	"path/filepath"
	"strings"

	"github.com/gocls/gocls/preprocess"
)

// stepSpec is the command of one of preprocess.Ops: its flags are the
// operation's parameters, the keys of a training config's data.preprocess
// steps, with the same defaults and checks.
func stepSpec(name string) opSpec {
	d, err := preprocess.LookupOp(name)
	if err != nil {
		panic(err) // the ops table names an operation preprocess.Ops lacks
	}
	return opSpec{usage: stepUsage(d), flags: func(fs *flag.FlagSet) action { return stepAction(d, fs) }}
}

func stepUsage(d *preprocess.OpDef) string {
	var b strings.Builder
	for _, p := range d.Params {
		val := p.Format(p.Default)
		switch p.Kind {
		case preprocess.NameParam:
			val = strings.Join(p.Choices, "|")
		case preprocess.MatrixParam:
			val = "'" + val + "'" // ';' ends a shell command
		}
		b.WriteString("[-" + p.Key + " " + val + "] ")
	}
	b.WriteString("IN OUT.png")
	op, err := d.Build(nil)
	if err == nil && op.Float != nil {
		b.WriteString("|OUT.npy   (.npy: the float result; .png: converted to 8 bits)")
	}
	return b.String()
}

func stepAction(d *preprocess.OpDef, fs *flag.FlagSet) action {
	cfg := preprocess.StepConfig{}
	for _, p := range d.Params {
		help := p.Help
		if p.Kind == preprocess.NameParam {
			help += ": " + strings.Join(p.Choices, ", ")
		}
		fs.Var(&paramFlag{p: p, cfg: cfg}, p.Key, help)
	}
	return func(in image.Image, out string, _ io.Writer) error {
		op, err := d.Build(cfg)
		if err != nil {
			return badFlag("%s", strings.TrimPrefix(err.Error(), "preprocess: "))
		}
		if op.Float != nil && strings.EqualFold(filepath.Ext(out), ".npy") {
			return writeNPY(out, op.Float(preprocess.ToGray(in)))
		}
		return writePNG(out, op.Apply(in))
	}
}

// paramFlag sets one parameter of a step from its command-line form.
type paramFlag struct {
	p   preprocess.Param
	cfg preprocess.StepConfig
}

func (f *paramFlag) String() string {
	if f == nil || f.cfg == nil {
		return "" // the flag package's probe for zero values
	}
	if v, ok := f.cfg[f.p.Key]; ok {
		return f.p.Format(v)
	}
	return f.p.Format(f.p.Default)
}

func (f *paramFlag) Set(s string) error {
	v, err := f.p.Parse(s)
	if err != nil {
		return err
	}
	f.cfg[f.p.Key] = v
	return nil
}
