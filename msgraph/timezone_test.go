package msgraph

import (
	"testing"
	"time"
	_ "time/tzdata" // every zone of the table on any host
)

func TestIANATimeZone(t *testing.T) {
	for win, iana := range windowsZones {
		if _, err := time.LoadLocation(iana); err != nil {
			t.Errorf("%s maps to %s, which does not load: %v", win, iana, err)
		}
	}
	for in, want := range map[string]string{
		"Pacific Standard Time":    "America/Los_Angeles",
		"w. europe standard time":  "Europe/Berlin",
		"Europe/Berlin":            "Europe/Berlin",
		"UTC":                      "Etc/UTC",
		"tzone://Microsoft/Custom": "",
		"Mars Standard Time":       "",
		"Local":                    "",
		"":                         "",
	} {
		if got := ianaTimeZone(in); got != want {
			t.Errorf("ianaTimeZone(%q) = %q, want %q", in, got, want)
		}
	}
}
