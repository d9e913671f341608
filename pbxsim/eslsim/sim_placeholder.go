package eslsim

// Sim is a placeholder so the protocol half compiles on its own; the
// switch half's Sim (with this proto field) replaces it when the branches
// are merged, and this file is deleted.
type Sim struct{ proto *protocol }
