package pbxsim

import (
	"bytes"
	"encoding/json"
)

// obj is a JSON object that keeps its keys in insertion order. Asterisk emits
// fields in a fixed order (type, timestamp, ... asterisk_id, application) and
// the traces record it, so the simulator writes the same order instead of the
// alphabetical order a map would give.
type obj []kv

type kv struct {
	k string
	v any
}

func (o obj) set(k string, v any) obj { return append(o, kv{k, v}) }

// MarshalJSON writes the object compactly and without HTML escaping, as
// Asterisk does ("<>" in dialplan data stays "<>").
func (o obj) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, p := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := encodeValue(&buf, p.k); err != nil {
			return nil, err
		}
		buf.WriteByte(':')
		if err := encodeValue(&buf, p.v); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func encodeValue(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	// Encoder.Encode appends a newline; drop it to stay compact.
	buf.Truncate(buf.Len() - 1)
	return nil
}

// marshal encodes any value the way the simulator puts it on the wire.
func marshal(v any) []byte {
	var buf bytes.Buffer
	if err := encodeValue(&buf, v); err != nil {
		// Only simulator-built values are encoded here; failing is a bug.
		panic("pbxsim: marshal: " + err.Error())
	}
	return buf.Bytes()
}
