// Package media is what the ACD plays to a leg, in its own words: a sound,
// a number, digits, characters, a recording, a tone or a text to speak.
// Each PBX driver turns a Media into its own form (ARI's "sound:…" URIs
// for Asterisk; file paths, say or phrase macros for FreeSWITCH), so the
// core never speaks a PBX's media syntax. The configuration keeps its
// familiar strings ("sound:welcome", "tts:Hello"); Parse reads them once,
// when the configuration is loaded.
//
// The package is a leaf (it imports nothing of Tandem), so config, acd and
// the drivers can all use it without an import cycle.
package media

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Kind is what a Media is.
type Kind int

const (
	// None is the zero Media: nothing to play.
	None Kind = iota
	// Sound is a prompt file by name, without extension ("queue-thankyou",
	// "custom/welcome").
	Sound
	// Number is a number said as a whole ("42" → "forty-two").
	Number
	// Digits are said one by one ("42" → "four two").
	Digits
	// Characters are spelled letter by letter.
	Characters
	// Recording is a stored recording by name (e.g. a callback message).
	Recording
	// Tone is a tone by name or frequency list ("ring;tonezone=us"); it
	// plays until stopped.
	Tone
	// Text is read by the PBX's speech synthesis.
	Text
)

// schemes are the configuration spellings of the kinds, in Kind order.
var schemes = [...]string{None: "", Sound: "sound", Number: "number", Digits: "digits", Characters: "characters", Recording: "recording", Tone: "tone", Text: "tts"}

// String is the configuration spelling of k ("sound", "tts", ...).
func (k Kind) String() string {
	if k < 0 || int(k) >= len(schemes) {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return schemes[k]
}

// Media is one thing to play. The zero value is None (nothing).
type Media struct {
	Kind  Kind
	Value string
}

// Constructors, for code that builds media rather than reading them.

func SoundOf(name string) Media     { return Media{Kind: Sound, Value: name} }
func NumberOf(n int) Media          { return Media{Kind: Number, Value: strconv.Itoa(n)} }
func DigitsOf(d string) Media       { return Media{Kind: Digits, Value: d} }
func CharactersOf(s string) Media   { return Media{Kind: Characters, Value: s} }
func RecordingOf(name string) Media { return Media{Kind: Recording, Value: name} }
func ToneOf(tone string) Media      { return Media{Kind: Tone, Value: tone} }
func TextOf(text string) Media      { return Media{Kind: Text, Value: text} }

// IsZero reports whether m is None (nothing to play).
func (m Media) IsZero() bool { return m.Kind == None }

// ErrInvalid is wrapped by every error of Parse.
var ErrInvalid = errors.New("invalid media")

// String is m in the configuration's spelling ("sound:welcome"); "" for None.
func (m Media) String() string {
	if m.Kind == None {
		return ""
	}
	return m.Kind.String() + ":" + m.Value
}

// Parse reads the configuration's spelling of one media: "sound:<name>",
// "number:<n>", "digits:<0-9*#>", "characters:<text>", "recording:<name>",
// "tone:<tone>" or "tts:<text>". "" is None. Only these schemes are read
// (no "http:", no "file:"): a media may come from a client (a callback's
// message), and the PBX would fetch or open whatever it names. A sound is
// a relative path of names ("custom/welcome"), a recording one name
// ("callback-1234"): no "..", no leading "/", nothing but A-Z a-z 0-9 _ . -
// (and / between a sound's parts).
func Parse(s string) (Media, error) {
	if s == "" {
		return Media{}, nil
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Media{}, fmt.Errorf("%w: %q: must start with one of %s", ErrInvalid, s, schemeList())
	}
	m := Media{Kind: None, Value: rest}
	for k, name := range schemes {
		if k != int(None) && name == scheme {
			m.Kind = Kind(k)
		}
	}
	bad := func(why string) (Media, error) { return Media{}, fmt.Errorf("%w: %q: %s", ErrInvalid, s, why) }
	switch {
	case m.Kind == None:
		return bad(fmt.Sprintf("unknown kind %q; must start with one of %s", scheme, schemeList()))
	case strings.TrimSpace(rest) == "":
		return bad("must name the media after " + scheme + ":")
	case m.Kind == Number:
		if _, err := strconv.Atoi(rest); err != nil {
			return bad("a number must be an integer")
		}
	case m.Kind == Digits && strings.Trim(rest, "0123456789*#") != "":
		return bad("digits are 0-9, * and #")
	case m.Kind == Sound:
		if why := checkPath(rest, true); why != "" {
			return bad(why)
		}
	case m.Kind == Recording:
		if why := checkPath(rest, false); why != "" {
			return bad(why)
		}
	case m.Kind == Tone && strings.Trim(rest, toneChars) != "":
		return bad("a tone is a name or frequencies of A-Z a-z 0-9 and ; = + / ! , * # . _ -")
	case m.Kind == Tone && strings.Contains(rest, ".."):
		return bad("a tone must not contain ..")
	case (m.Kind == Characters || m.Kind == Text) && !printable(rest):
		return bad("text to say must not contain control characters")
	}
	return m, nil
}

// nameChars are the characters of a sound or recording name (each part
// of a sound's path).
const nameChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"

// toneChars are those of a tone: an indication name with options
// ("ring;tonezone=us") or a list of frequencies ("!350+440/100,!0/100").
const toneChars = nameChars + ";=+/!,*#"

// checkPath says what is wrong with the name of a sound (subdirs: a
// relative path of the PBX's sound folder, "custom/welcome") or of a
// recording (a plain name, "callback-1234"): names reach the PBX, which
// reads them as file paths, so nothing may climb out of its folder (".."),
// start at the root, or name another scheme or list.
func checkPath(name string, subdirs bool) string {
	if !subdirs && strings.Contains(name, "/") {
		return "a recording name must not contain /"
	}
	for part := range strings.SplitSeq(name, "/") {
		switch {
		case part == "":
			return "a name must not start or end with /, nor hold //"
		case part == "." || part == "..":
			return "a name must not contain . or .. parts"
		case strings.Trim(part, nameChars) != "":
			if subdirs {
				return "a sound is a path of names of A-Z a-z 0-9 _ . - separated by /"
			}
			return "a recording name is A-Z a-z 0-9 _ . -"
		}
	}
	return ""
}

// printable reports whether s holds only printable characters and spaces.
func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// MustParse is Parse for media known to be right (tests, defaults); it
// panics on an error.
func MustParse(s string) Media {
	m, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return m
}

// UnmarshalText lets configuration decoders (mapstructure, YAML, JSON)
// parse media where a Media field is declared.
func (m *Media) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// MarshalText writes the configuration's spelling.
func (m Media) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

func schemeList() string {
	out := make([]string, 0, len(schemes)-1)
	for _, s := range schemes[1:] {
		out = append(out, s+":")
	}
	return strings.Join(out, ", ")
}
