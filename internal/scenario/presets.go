package scenario

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// presets maps a name to its Config (before Normalize; Seed left 0).
var presets = map[string]func() Config{
	// A small, quick file for documentation and smoke tests: six hours of
	// an exponentially growing population (doubling every 2 h), a little
	// background with IPv6 and VLAN frames, a 2000-SYN flood in 5 s at 03:00.
	"demo": func() Config {
		return Config{
			Duration: 6 * time.Hour, Model: ModelExponential, Rate0: 4, Doubling: 2 * time.Hour,
			ProbesPerMinute: 0.5, RetransmitProb: 0.2, Churn: 0.02,
			IPv6Fraction: 0.1, VLANFraction: 0.1, Background: 0.1,
			FloodAt: 3 * time.Hour, FloodCount: 2000, FloodSpan: 5 * time.Second,
		}
	},
	// Linear growth: a constant 20 new sources per hour for 36 h.
	"steady": func() Config {
		return Config{
			Duration: 36 * time.Hour, Model: ModelSteady, Rate0: 20,
			ProbesPerMinute: 0.2, RetransmitProb: 0.2, IPv6Fraction: 0.05, VLANFraction: 0.05, Background: 0.5,
		}
	},
	// Exponential growth: 4/h at the start, doubling every 6 h, 36 h.
	"exponential": func() Config {
		return Config{
			Duration: 36 * time.Hour, Model: ModelExponential, Rate0: 4, Doubling: 6 * time.Hour,
			ProbesPerMinute: 0.2, RetransmitProb: 0.2, IPv6Fraction: 0.05, VLANFraction: 0.05, Background: 0.5,
		}
	},
	// Steady 20/h with a strong day/night cycle (amplitude 0.8, peak 14:00 UTC), 72 h.
	"daynight": func() Config {
		return Config{
			Duration: 72 * time.Hour, Model: ModelSteady, Rate0: 20, DayNight: 0.8,
			ProbesPerMinute: 0.1, Background: 0.2,
		}
	},
	// Steady 20/h, overdispersed: gamma-mixed per-window rate, dispersion 1.5, 36 h.
	"bursty": func() Config {
		return Config{
			Duration: 36 * time.Hour, Model: ModelSteady, Rate0: 20, Overdispersion: 1.5,
			ProbesPerMinute: 0.2, Background: 0.2,
		}
	},
	// A flat population of 300 hosts changing address (DHCP) with
	// probability 0.1 per hour: new sources only through churn, 36 h.
	"churn": func() Config {
		return Config{
			Duration: 36 * time.Hour, Model: ModelFlat, Population: 300, Churn: 0.1,
			ProbesPerMinute: 0.2, Background: 0.2,
		}
	},
	// A flat population of 500 hosts re-scanning all along, 36 h.
	"flat": func() Config {
		return Config{
			Duration: 36 * time.Hour, Model: ModelFlat, Population: 500,
			ProbesPerMinute: 0.2, Background: 0.2,
		}
	},
	// Declining infections: 200/h at the start, half-life 6 h, 36 h.
	"decline": func() Config {
		return Config{
			Duration: 36 * time.Hour, Model: ModelDecline, Rate0: 200, Doubling: 6 * time.Hour,
			ProbesPerMinute: 0.1, Background: 0.2,
		}
	},
	// Logistic outbreak: 2/h at the start doubling every 3 h early,
	// saturating at 3000 infections (midpoint near hour 25), 48 h.
	"logistic": func() Config {
		return Config{
			Duration: 48 * time.Hour, Model: ModelLogistic, Rate0: 2, Doubling: 3 * time.Hour, Capacity: 3000,
			ProbesPerMinute: 0.1, Background: 0.2,
		}
	},
	// A steady 10/h population and a spoofed flood of 5000 SYNs in 10 s at 03:00, 6 h.
	"flood": func() Config {
		return Config{
			Duration: 6 * time.Hour, Model: ModelSteady, Rate0: 10, ProbesPerMinute: 0.5,
			FloodAt: 3 * time.Hour, FloodCount: 5000, FloodSpan: 10 * time.Second, Background: 0.2,
		}
	},
	// Sources scanning about 2 h, then sleeping about 26 h (each +-25%): many
	// come back after more than the 24 h lookback and count as new again, 72 h.
	"sleepers": func() Config {
		return Config{
			Duration: 72 * time.Hour, Model: ModelSteady, Rate0: 10,
			ScanDuration: 2 * time.Hour, SleepDuration: 26 * time.Hour,
			ProbesPerMinute: 1, Background: 0.1,
		}
	},
	// About 10 million whole frames over 26 h, ~95% background whose data
	// segments all carry a full-size payload (about 5.5 GB, 546 bytes a
	// frame on average), ~5% watched SYNs from an exponentially growing
	// population.
	"bench": func() Config {
		return Config{
			Duration: 26 * time.Hour, Model: ModelExponential, Rate0: 20, Doubling: 8 * time.Hour,
			ProbesPerMinute: 0.45, RetransmitProb: 0.2, IPv6Fraction: 0.05, VLANFraction: 0.1,
			Background: 102, BulkPercent: 100,
		}
	},
}

// PresetNames lists the presets, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Preset returns the named scenario (Normalized, Seed 0: set it).
func Preset(name string) (Config, error) {
	f, ok := presets[strings.ToLower(name)]
	if !ok {
		return Config{}, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(PresetNames(), ", "))
	}
	c := f()
	c.Name = strings.ToLower(name)
	return c.Normalize(), nil
}
