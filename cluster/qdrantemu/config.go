package qdrantemu

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// settings are the parts of a collection's configuration besides params, as
// GET /collections/{c} reports them under config and as config.json in a
// collection snapshot stores them (lib/collection/src/config.rs,
// CollectionConfigInternal). They are kept as JSON: the emulator stores and
// returns them and never acts on them, so that a restore that forgets one of
// them shows up as a difference.
type settings struct {
	HNSWConfig      json.RawMessage `json:"hnsw_config"`
	OptimizerConfig json.RawMessage `json:"optimizer_config"`
	WALConfig       json.RawMessage `json:"wal_config"`
	// QuantizationConfig is null when the collection has none.
	QuantizationConfig json.RawMessage `json:"quantization_config"`
	StrictModeConfig   json.RawMessage `json:"strict_mode_config,omitempty"`
	Metadata           json.RawMessage `json:"metadata,omitempty"`
}

// defaultSettings are a collection's settings when its creation set none: the
// storage defaults of config/config.yaml.
func defaultSettings() settings {
	return settings{
		HNSWConfig:         json.RawMessage(defaultHNSW),
		OptimizerConfig:    json.RawMessage(defaultOptimizer),
		WALConfig:          json.RawMessage(defaultWAL),
		QuantizationConfig: json.RawMessage("null"),
	}
}

// filled returns settings with the defaults in place of missing sections, for
// snapshots written before the emulator kept them.
func (s settings) filled() settings {
	d := defaultSettings()
	if isNull(s.HNSWConfig) {
		s.HNSWConfig = d.HNSWConfig
	}
	if isNull(s.OptimizerConfig) {
		s.OptimizerConfig = d.OptimizerConfig
	}
	if isNull(s.WALConfig) {
		s.WALConfig = d.WALConfig
	}
	if len(s.QuantizationConfig) == 0 {
		s.QuantizationConfig = d.QuantizationConfig
	}
	return s
}

func isNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// applyDiff applies a config diff (HnswConfigDiff, OptimizersConfigDiff,
// WalConfigDiff) to defaults as Qdrant's DiffConfig::update does: every field
// the diff sets replaces the default, the others stay.
func applyDiff(defaults string, diff json.RawMessage) (json.RawMessage, error) {
	if isNull(diff) {
		return json.RawMessage(defaults), nil
	}
	base := map[string]json.RawMessage{}
	if err := json.Unmarshal([]byte(defaults), &base); err != nil {
		return nil, err
	}
	over := map[string]json.RawMessage{}
	if err := json.Unmarshal(diff, &over); err != nil {
		return nil, fmt.Errorf("want an object, got %s", diff)
	}
	for k, v := range over {
		if !isNull(v) {
			base[k] = v
		}
	}
	return json.Marshal(base)
}

// compactJSON returns raw without insignificant spaces, nil for null.
func compactJSON(raw json.RawMessage) json.RawMessage {
	if isNull(raw) {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}
