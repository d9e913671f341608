package esl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tandem-cc/tandem/media"
)

// ErrUnsupportedMedia is wrapped by StartMedia for media FreeSWITCH cannot
// play as configured: text (FreeSWITCH speaks only through a TTS module,
// such as mod_flite or mod_tts_commandline, which Tandem does not assume),
// a tone it has no definition for, a character without a sound file.
var ErrUnsupportedMedia = errors.New("media not playable on FreeSWITCH")

// tones are FreeSWITCH tone_stream definitions (TGML) for the tone names
// Tandem's configuration uses (Asterisk's indications: "ring", "busy"...),
// North American cadences. They loop until stopped, as a tone does on
// Asterisk.
var tones = map[string]string{
	"ring":        "%(2000,4000,440,480)",
	"busy":        "%(500,500,480,620)",
	"congestion":  "%(250,250,480,620)",
	"dial":        "%(1000,0,350,440)",
	"info":        "%(330,0,950);%(330,0,1400);%(330,1000,1800)",
	"callwaiting": "%(300,9700,440)",
}

// mediaMapper turns the port's media into FreeSWITCH playback file names.
type mediaMapper struct {
	soundsDir     string // "" = relative names, resolved by FreeSWITCH against sound_prefix / sounds_dir
	soundFormat   string // extension of prompt files ("wav")
	recordingsDir string
	recFormat     string
}

// files returns the files that play m, in order.
func (mm mediaMapper) files(m media.Media) ([]string, error) {
	switch m.Kind {
	case media.Sound:
		return []string{mm.sound(m.Value)}, nil
	case media.Recording:
		return []string{mm.recording(m.Value)}, nil
	case media.Digits:
		out := make([]string, 0, len(m.Value))
		for _, c := range m.Value {
			out = append(out, mm.sound("digits/"+digitName(c)))
		}
		return out, nil
	case media.Number:
		n, err := strconv.Atoi(m.Value)
		if err != nil {
			return nil, fmt.Errorf("%w: %q is not a number", ErrUnsupportedMedia, m.Value)
		}
		words, err := numberWords(n)
		if err != nil {
			return nil, err
		}
		out := make([]string, len(words))
		for i, w := range words {
			out[i] = mm.sound("digits/" + w)
		}
		return out, nil
	case media.Characters:
		var out []string
		for _, c := range strings.ToLower(m.Value) {
			switch {
			case c == ' ':
				continue
			case c > 32 && c < 127:
				// mod_say_en spells with ascii/<code>.wav.
				out = append(out, mm.sound("ascii/"+strconv.Itoa(int(c))))
			default:
				return nil, fmt.Errorf("%w: no sound file spells %q", ErrUnsupportedMedia, c)
			}
		}
		return out, nil
	case media.Tone:
		name, _, _ := strings.Cut(m.Value, ";") // drop Asterisk's ";tonezone=us"
		spec, ok := tones[name]
		if !ok {
			return nil, fmt.Errorf("%w: tone %q (known: ring, busy, congestion, dial, info, callwaiting)", ErrUnsupportedMedia, m.Value)
		}
		return []string{"tone_stream://" + spec + ";loops=-1"}, nil
	case media.Text:
		return nil, fmt.Errorf("%w: %q: FreeSWITCH speaks text only through a TTS module (mod_flite, mod_tts_commandline...), which Tandem does not configure; use a sound", ErrUnsupportedMedia, m.String())
	}
	return nil, fmt.Errorf("%w: nothing to play (%v)", ErrUnsupportedMedia, m.Kind)
}

// playArg is playback's argument for items: one file, or a file_string://
// list (names are checked by media.Parse and never hold '!').
func (mm mediaMapper) playArg(items []media.Media) (string, error) {
	var files []string
	for _, m := range items {
		f, err := mm.files(m)
		if err != nil {
			return "", err
		}
		files = append(files, f...)
	}
	switch len(files) {
	case 0:
		return "", fmt.Errorf("%w: nothing to play", ErrUnsupportedMedia)
	case 1:
		return files[0], nil
	}
	return "file_string://" + strings.Join(files, "!"), nil
}

func (mm mediaMapper) sound(name string) string {
	f := name + "." + mm.soundFormat
	if mm.soundsDir == "" {
		return f
	}
	return strings.TrimSuffix(mm.soundsDir, "/") + "/" + f
}

func (mm mediaMapper) recording(name string) string {
	return strings.TrimSuffix(mm.recordingsDir, "/") + "/" + name + "." + mm.recFormat
}

func digitName(c rune) string {
	switch c {
	case '*':
		return "star"
	case '#':
		return "pound"
	}
	return string(c)
}

// numberWords says n with FreeSWITCH's English digit files (digits/0..19,
// 20..90, hundred, thousand, million), as mod_say_en does.
func numberWords(n int) ([]string, error) {
	if n < 0 || n > 999_999_999 {
		return nil, fmt.Errorf("%w: number %d out of range 0..999999999", ErrUnsupportedMedia, n)
	}
	if n == 0 {
		return []string{"0"}, nil
	}
	var out []string
	for _, g := range []struct {
		div  int
		name string
	}{{1_000_000, "million"}, {1000, "thousand"}, {1, ""}} {
		part := n / g.div
		n %= g.div
		if part == 0 {
			continue
		}
		out = append(out, below1000(part)...)
		if g.name != "" {
			out = append(out, g.name)
		}
	}
	return out, nil
}

func below1000(n int) []string {
	var out []string
	if h := n / 100; h > 0 {
		out = append(out, strconv.Itoa(h), "hundred")
	}
	n %= 100
	switch {
	case n == 0:
	case n < 20:
		out = append(out, strconv.Itoa(n))
	default:
		out = append(out, strconv.Itoa(n/10*10))
		if n%10 != 0 {
			out = append(out, strconv.Itoa(n%10))
		}
	}
	return out
}
