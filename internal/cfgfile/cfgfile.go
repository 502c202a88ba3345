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
	"strings"

	"gopkg.in/yaml.v3"
)

// Load decodes the YAML file at path into dst (which should already hold the
// defaults) and then applies each override "a.b.c=value" in order. Values are
// parsed as YAML, so lists ("[1, 2]") and numbers work. An empty path applies
// only the overrides.
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

// Set applies one "a.b.c=value" override to dst. An empty value ("a.b=")
// sets an empty string.
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
	var valNode yaml.Node
	if err := yaml.Unmarshal([]byte(value), &valNode); err != nil {
		return fmt.Errorf("config: -set %q: bad value: %s", assignment, cleanYAMLError(err))
	}
	var leaf *yaml.Node
	if len(valNode.Content) > 0 {
		leaf = valNode.Content[0]
	} else {
		// "-set key=" sets an empty string (a YAML null would leave the old value).
		leaf = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""}
	}
	// Build {a: {b: {c: value}}}.
	node := leaf
	for i := len(parts) - 1; i >= 0; i-- {
		node = &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Value: parts[i]}, node,
		}}
	}
	data, err := yaml.Marshal(node)
	if err != nil {
		return fmt.Errorf("config: -set %q: %w", assignment, err)
	}
	if err := decodeStrict(data, dst); err != nil {
		return fmt.Errorf("config: -set %s: %s", assignment, cleanYAMLError(err))
	}
	return nil
}

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
