package config

import (
	"errors"
	"fmt"
	"github.com/spf13/pflag"
	"math/big"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"

	"github.com/synscope/synscope/pkg/ranges"
)

// The readers of single values below name the key in every error they
// return, so a bad flag, variable or file entry is found at once.

// fraction reads a number from lo up to, not including, 1 (a confidence,
// an amplitude), and says that range when the value is out of it.
func fraction(v *viper.Viper, k string, lo float64) (float64, error) {
	s := strings.TrimSpace(v.GetString(k))
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= lo && f < 1) {
		return 0, keyErr(k, fmt.Errorf("%q is not a number from %g up to (not including) 1", s, lo))
	}
	return f, nil
}

func durations(ds []time.Duration) string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return strings.Join(out, ",")
}

func keyErr(k string, err error) error { return &keyError{key: k, err: err} }

// keyedErr is err, a check's that names the key it refused at the start
// of its message ("window 169h0m0s: must be at most 168h", the engine's and
// the classifier's checks), as that key's keyError, so sourced can say
// where the value came from; any other error as it is.
func keyedErr(err error) error {
	var ke *keyError
	if err == nil || errors.As(err, &ke) {
		return err
	}
	msg, key := err.Error(), ""
	for _, k := range fileKeys {
		if len(k) > len(key) && (strings.HasPrefix(msg, k+" ") || strings.HasPrefix(msg, k+":")) {
			key = k
		}
	}
	if key == "" {
		return err
	}
	return &keyError{key: key, err: err, named: true}
}

// keyError is a key's value refused; where names where it came from (see
// sourced); named: err's message begins with the key already.
type keyError struct {
	key, where string
	err        error
	named      bool
}

func (e *keyError) Error() string {
	msg := e.key + ": " + e.err.Error()
	if e.named {
		msg = e.err.Error()
	}
	if e.where != "" {
		return fmt.Sprintf("%s (%s)", msg, e.where)
	}
	return msg
}

func (e *keyError) Unwrap() error { return e.err }

// sourced says in err, a key's value refused, where the value came from:
// the flag, the environment variable or the config file (the flag wins
// over the variable, the variable over the file). A value refused from
// SENSOR_PORTS or a config file line was reported as if from a flag.
//
// inFile says whether the file set the key: a default refused (the
// lookback, for a window set longer) was blamed on a config file that did
// not name it (a review); it is said to be the default.
func sourced(err error, fs *pflag.FlagSet, file string, inFile func(key string) bool) error {
	var ke *keyError
	if !errors.As(err, &ke) || ke.where != "" {
		return err
	}
	env := "SENSOR_" + strings.ToUpper(strings.ReplaceAll(ke.key, "-", "_"))
	_, inEnv := os.LookupEnv(env)
	switch {
	case fs.Lookup(ke.key) != nil && fs.Changed(ke.key):
		ke.where = "flag --" + ke.key
	case inEnv:
		ke.where = "environment variable " + env
	case file != "" && inFile(ke.key):
		ke.where = "config file " + file
	default:
		ke.where = "the default"
	}
	return err
}

// stringList accepts a YAML list, a comma-separated string (environment)
// or repeated flags.
func stringList(v *viper.Viper, k string) []string {
	raw := v.Get(k)
	var out []string
	switch x := raw.(type) {
	case string:
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	default:
		// An empty element (`read: [""]`, `read: [~]`, -r '') is none:
		// it was an input named "" that failed once the run began.
		for _, s := range v.GetStringSlice(k) {
			if strings.TrimSpace(s) != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// ParseDuration reads Go durations ("90s", "1h30m") and whole days ("7d").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(d, 10, 16)
		if err == nil {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	return time.ParseDuration(s)
}

// durationSyntax says whether s is written as a positive duration (decimal
// numbers, each with a unit ns, us, µs, ms, s, m or h), whatever its size.
func durationSyntax(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" {
		return false
	}
	for s != "" {
		i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if i <= 0 {
			return false // no number, or a number without a unit
		}
		if num := s[:i]; strings.Count(num, ".") > 1 || strings.Trim(num, ".") == "" || num[0] == '.' {
			return false // 1.2.3, ., .5: not a number time.ParseDuration takes
		}
		s = s[i:]
		unit := false
		for _, u := range []string{"ns", "us", "µs", "μs", "ms", "s", "m", "h"} {
			if strings.HasPrefix(s, u) {
				s, unit = s[len(u):], true
				break
			}
		}
		if !unit {
			return false
		}
	}
	return true
}

func duration(v *viper.Viper, k string) (time.Duration, error) {
	s := v.GetString(k)
	d, err := ParseDuration(s)
	if err != nil && durationSyntax(strings.TrimSpace(s)) {
		// time.ParseDuration calls a number too large "invalid" too.
		return 0, keyErr(k, fmt.Errorf("%q is too long: a duration is at most about 292 years", s))
	}
	if err != nil || d <= 0 {
		return 0, keyErr(k, fmt.Errorf("%q is not a positive duration such as 30s, 5m, 24h or 7d", s))
	}
	return d, nil
}

func oneOf(v *viper.Viper, k string, allowed ...string) (string, error) {
	s := strings.ToLower(strings.TrimSpace(v.GetString(k)))
	if !slices.Contains(allowed, s) {
		return "", keyErr(k, fmt.Errorf("%q is not one of %s", s, strings.Join(allowed, ", ")))
	}
	return s, nil
}

func positive(v *viper.Viper, k string, max int) (int, error) { return whole(v, k, 1, max) }

// whole reads a whole number from min to max, and says that range when the
// value is out of it.
func whole(v *viper.Viper, k string, min, max int) (int, error) {
	s := strings.TrimSpace(v.GetString(k))
	n, err := strconv.Atoi(digitGroups(s))
	if err != nil && exponentForm(s) {
		// 1e6: a whole number, as a config file's YAML reads it (the flag
		// refused what the file took); exactly, not rounded to one.
		if r, ok := new(big.Rat).SetString(s); ok && r.IsInt() && r.Num().IsInt64() && r.Num().Int64() <= int64(max) {
			n, err = int(r.Num().Int64()), nil
		}
	}
	if err != nil || n < min || n > max {
		return 0, keyErr(k, fmt.Errorf("%q is not a whole number from %d to %d", s, min, max))
	}
	return n, nil
}

// digitGroups is s without the underscores that group its digits (1_000),
// or s as it is when an underscore is anywhere else (_1, 1__0, 1_), which
// then fails to parse.
func digitGroups(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '_' && (i == 0 || i == len(s)-1 || s[i-1] < '0' || s[i-1] > '9' || s[i+1] < '0' || s[i+1] > '9') {
			return s
		}
	}
	return strings.ReplaceAll(s, "_", "")
}

// exponentForm says whether s is a decimal number with an exponent (1e6,
// 2.5E3, +1e+06): the form YAML and the environment may give a whole
// number in; not hex, not NaN or Inf.
func exponentForm(s string) bool {
	s = strings.TrimPrefix(s, "+")
	mant, exp, ok := strings.Cut(strings.ToLower(s), "e")
	if !ok {
		return false
	}
	whole, frac, _ := strings.Cut(mant, ".")
	exp = strings.TrimPrefix(exp, "+")
	allDigits := func(x string) bool { return x != "" && strings.Trim(x, "0123456789") == "" }
	return allDigits(whole) && (frac == "" || allDigits(frac)) && allDigits(exp) && !strings.HasSuffix(mant, ".")
}

// prefixes reads a list of CIDRs.
func prefixes(v *viper.Viper, k string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range stringList(v, k) {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, keyErr(k, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or 2001:db8::/32", s))
		}
		out = append(out, ranges.Unmap(p)) // ::ffff:10.0.0.0/104 is 10.0.0.0/8
	}
	return out, nil
}

// strictBool reads a boolean setting, refusing what is not one (a file's
// "flood-sources: maybe" must not silently mean false).
// boolKey is key k's on/off value: true or false (YAML, flags), or the
// words strconv.ParseBool takes (environment); anything else is refused,
// naming the key (viper's GetBool reads "yes", "on" or a typo as false:
// `kafka-tls: yes` meant plaintext).
func boolKey(v *viper.Viper, k string) (bool, error) {
	b, err := strictBool(v.Get(k))
	if err != nil {
		return false, keyErr(k, err)
	}
	return b, nil
}

func strictBool(x any) (bool, error) {
	switch b := x.(type) {
	case bool:
		return b, nil
	case nil:
		return false, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(fmt.Sprint(x)))
	if err != nil {
		return false, fmt.Errorf("%q is not true or false", fmt.Sprint(x))
	}
	return b, nil
}
