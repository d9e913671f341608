// Package layering holds the test that keeps Tandem's dependencies
// pointing one way (cmd → api → acd/agents/callbacks/cad ← drivers;
// config → core): the core imports no configuration library and no PBX
// library, so it can be embedded, tested and driven by any PBX driver
// without dragging viper or a client library along. It has no code.
package layering
