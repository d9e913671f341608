package agents

import "regexp"

// idPattern is what an agent id may be: it becomes part of Redis key
// names (agent:<id>) and of URLs (/v1/agents/<id>/…), so it is kept to
// letters, digits, '_' and '-', starting with a letter or digit. Dots are
// refused because "." and ".." are path segments a URL or a proxy
// rewrites, '@' and ':' because they read as part of a dial string or a key
// separator.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// IDRule says in words what ValidID accepts (error messages use it).
const IDRule = "must be 1-64 characters of A-Z a-z 0-9 _ -, starting with a letter or digit"

// ValidID reports whether s may be an agent id. The core checks it before
// it creates an agent record; the API and the configuration check with it
// too, so all three accept the same ids.
func ValidID(s string) bool { return idPattern.MatchString(s) }
