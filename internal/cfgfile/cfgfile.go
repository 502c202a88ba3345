// Package cfgfile loads YAML configuration files strictly: an unknown key is
// an error naming the key and the file, and `-set section.key=value`
// overrides from the command line are applied on top with the same checks.
package cfgfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load decodes the YAML file at path into dst (which should already hold the
// defaults) and then applies each override "a.b.c=value" in order. Values are
// parsed as YAML, so lists ("[1, 2]") and numbers work (see Set for the values
// taken as text). An empty path applies only the overrides.
func Load(path string, sets []string, dst any) error {
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		if err := decodeStrict(data, dst); err != nil {
			return fmt.Errorf("config: %s: %s", path, cleanYAMLError(err))
		}
	}
	for _, s := range sets {
		if err := Set(s, dst); err != nil {
			return err
		}
	}
	return nil
}

// Set applies one "a.b.c=value" override to dst. The value is read as YAML
// ("[1, 2]", "0.5", "true"), except where YAML would silently change what was
// written: a value with a '#' (a YAML comment, so "#000000" would vanish) or
// that is not valid YAML is taken as literal text, and so is any value the
// key cannot hold as YAML but can as text ("a: b" for a string key). An
// empty value ("a.b=") sets an empty string; a YAML null ("~", "null") is an
// error, since it would leave the key unchanged.
func Set(assignment string, dst any) error {
	key, value, ok := strings.Cut(assignment, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return fmt.Errorf("config: -set %q: want section.key=value", assignment)
	}
	parts := strings.Split(key, ".")
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("config: -set %q: empty key segment", assignment)
		}
	}
	literal := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
	if strings.TrimSpace(value) == "" {
		literal.Value = ""
		return setLeaf(assignment, parts, literal, dst)
	}
	parsed, err := parseValue(value)
	if err != nil {
		if setLeaf(assignment, parts, literal, dst) == nil {
			return nil
		}
		return fmt.Errorf("config: -set %s: bad value: %s", assignment, err)
	}
	if parsed == nil {
		return setLeaf(assignment, parts, literal, dst)
	}
	if parsed.Kind == yaml.ScalarNode && parsed.Tag == "!!null" {
		return fmt.Errorf("config: -set %s: %q is YAML null, which would leave %s unchanged (write %s= for an empty string, or quote the text)", assignment, value, key, key)
	}
	err = setLeaf(assignment, parts, parsed, dst)
	if err != nil && setLeaf(assignment, parts, literal, dst) == nil {
		return nil
	}
	return err
}

// parseValue reads value as one YAML node. It returns nil (take the text
// literally) when YAML would drop part of what was written: a comment, or
// nothing at all from non-blank text.
func parseValue(value string) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(value), &doc); err != nil {
		return nil, errors.New(lineRef.ReplaceAllString(cleanYAMLError(err), ""))
	}
	if len(doc.Content) == 0 || hasComment(&doc) {
		return nil, nil
	}
	return doc.Content[0], nil
}

func hasComment(n *yaml.Node) bool {
	if n.HeadComment != "" || n.LineComment != "" || n.FootComment != "" {
		return true
	}
	for _, c := range n.Content {
		if hasComment(c) {
			return true
		}
	}
	return false
}

// setLeaf decodes {a: {b: {c: leaf}}} into dst.
func setLeaf(assignment string, parts []string, leaf *yaml.Node, dst any) error {
	node := leaf
	for i := len(parts) - 1; i >= 0; i-- {
		node = &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Value: parts[i]}, node,
		}}
	}
	data, err := yaml.Marshal(node)
	if err != nil {
		return fmt.Errorf("config: -set %s: %w", assignment, err)
	}
	if err := decodeStrict(data, dst); err != nil {
		// The line numbers are those of the YAML built here, not of anything the user wrote.
		return fmt.Errorf("config: -set %s: %s", assignment, lineRef.ReplaceAllString(cleanYAMLError(err), ""))
	}
	return nil
}

var lineRef = regexp.MustCompile(`line \d+: `)

func decodeStrict(data []byte, dst any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(dst)
	if errors.Is(err, io.EOF) {
		return nil // empty file: defaults stand
	}
	return err
}

// cleanYAMLError turns yaml.v3's multi-line errors into one line.
func cleanYAMLError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// Marshal renders v as YAML (used to save the resolved config of a run).
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}
