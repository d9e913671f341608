package media

import (
	"errors"
	"testing"
)

func TestParseReadsEveryConfigurationSpelling(t *testing.T) {
	for in, want := range map[string]Media{
		"":                       {},
		"sound:queue-youarenext": SoundOf("queue-youarenext"),
		"sound:custom/welcome":   SoundOf("custom/welcome"),
		"number:42":              NumberOf(42),
		"digits:0123*#":          DigitsOf("0123*#"),
		"characters:abc":         CharactersOf("abc"),
		"recording:callback-x":   RecordingOf("callback-x"),
		"tone:ring;tonezone=us":  ToneOf("ring;tonezone=us"),
		"tts:Welcome to Acme":    TextOf("Welcome to Acme"),
	} {
		got, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("Parse(%q) = %+v, want %+v", in, got, want)
		}
		if got.String() != in {
			t.Errorf("Parse(%q).String() = %q: the spelling must round-trip", in, got.String())
		}
	}
}

func TestParseRefusesWhatNoDriverCouldPlay(t *testing.T) {
	for _, in := range []string{"welcome", "bogus:thing", "sound:", "sound:  ", "number:four", "digits:12a", "tts:"} {
		if m, err := Parse(in); err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %+v, %v; want an ErrInvalid", in, m, err)
		}
	}
}

func TestUnmarshalTextParses(t *testing.T) {
	var m Media
	if err := m.UnmarshalText([]byte("sound:beep")); err != nil || m != SoundOf("beep") {
		t.Fatalf("UnmarshalText = %+v, %v", m, err)
	}
	if err := m.UnmarshalText([]byte("beep")); err == nil {
		t.Fatal("UnmarshalText accepted media without a kind")
	}
	b, _ := SoundOf("beep").MarshalText()
	if string(b) != "sound:beep" {
		t.Fatalf("MarshalText = %q", b)
	}
}

// A media may come from a client (the message of a callback): only the
// schemes Tandem plays, and names that stay in the PBX's folders.
func TestParseRefusesOtherSchemesAndNamesThatLeaveTheirFolder(t *testing.T) {
	for _, in := range []string{
		"http://evil/x.wav", "https://evil/x.wav", "file:///etc/passwd", "HTTP:x", "Sound:beep",
		"recording:../../etc/passwd", "recording:..", "recording:a/b", "recording:/etc/passwd", `recording:a\b`,
		"sound:../../secret", "sound:/etc/passwd", "sound:custom/../../x", "sound:./beep", "sound:custom//x",
		"sound:custom/", "sound:a,sound:b", "sound:beep:x", "sound:be ep", "sound:beep\x00",
		"tone:../x", "tone:ring\x1b[2J", "tone:ring tone",
		"tts:hello\x00", "tts:clear\x1b[2J", "characters:a\nb",
	} {
		if m, err := Parse(in); err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %+v, %v; want an ErrInvalid", in, m, err)
		}
	}
	for _, in := range []string{
		"sound:custom/welcome", "sound:silence/1", "sound:en/queue-thankyou", "sound:beep.v2",
		"recording:callback-0123abcd", "recording:msg_1.v2", "tone:!350+440/100,!0/100", "tone:ring;tonezone=us",
		"tts:Bonjour, ça va ? 1-2-3.", "characters:AB-12",
	} {
		if _, err := Parse(in); err != nil {
			t.Errorf("Parse(%q): %v", in, err)
		}
	}
}
