package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/synscope/synscope/pkg/engine"
	"github.com/synscope/synscope/pkg/growth"
	"github.com/synscope/synscope/pkg/output"
)

// Keys only `sensor collect` has.
const (
	kMaxLag = "max-lag"
	kOnce   = "once"
	kGroup  = "group"
)

// Collect is `sensor collect`'s configuration.
type Collect struct {
	Kafka            Kafka
	Output           string
	SensorID         string // written in the fleet's records
	Window, Lookback time.Duration
	MaxLag           time.Duration
	Once             bool
	Group            string
	Growth           growth.Config
	GrowthOff        bool
	LogLevel         string
	LogFormat        string
	Help             bool
}

// CollectFlagSet builds `sensor collect`'s flags: the Kafka ones the sensor
// has, its window and lookback (which must be the sensors'), and its own.
func CollectFlagSet() *pflag.FlagSet {
	d := engine.DefaultConfig()
	fs := pflag.NewFlagSet("sensor collect", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.StringP(kOutput, "o", "-", "write the fleet's JSON Lines to `file` ('-' is stdout)")
	fs.Bool(kOnce, false, "read the topic to its end as it stands at start, write the final records and exit (one collector)")
	fs.String(kSensorID, "fleet", "`id` written in the fleet's records")
	fs.String(kMaxLag, "", "stop waiting for a sensor not heard from for this `long` while others go on; it is reported as silent (default: two windows)")
	fs.String(kGroup, "synscope-collect", "Kafka consumer `group` the collectors share")
	fs.String(kWindow, d.Window.String(), "window `length`: the sensors' own")
	fs.String(kLookback, d.Lookback.String(), "lookback: the sensors' own")
	fs.Bool(kGrowth, true, "write a growth record after every fleet window (default growth settings but the horizons)")
	fs.String(kHorizons, durations(growth.DefaultConfig().Horizons), "growth fit horizons, shortest first (the sensors' own when they classify)")
	fs.String(kLogLevel, "info", "log `level`: debug, info, warn, error")
	fs.String(kLogFormat, "auto", "log `format` on stderr: console, json, or auto")
	addKafkaFlags(fs)
	// The same flag, read the other way round here.
	fs.Lookup(kKafkaBrokers).Usage = "read the sensors' records from Kafka at these `host:port`s (required)"
	for _, k := range kafkaPublishOnly {
		fs.MarkHidden(k) // a config file shared with the sensors may still set them
	}
	fs.StringP("config", "c", "", "read settings from YAML `file` (the sensors' file will do): its Kafka keys, window, lookback, growth horizons, max-lag, group and once; the output, id, the rest of growth and logging are flags")
	fs.BoolP("help", "h", false, "show this help")
	return fs
}

var collectKeys = []string{kOutput, kOnce, kSensorID, kMaxLag, kGroup, kWindow, kLookback, kGrowth, kHorizons, kLogLevel, kLogFormat}

// collectOnly are the keys a config file may give collect that a sensor
// has not.
var collectOnly = []string{kMaxLag, kOnce, kGroup}

// LoadCollect parses `sensor collect`'s arguments, the environment and the
// config file into a validated Collect.
func LoadCollect(args []string) (*Collect, error) {
	fs := CollectFlagSet()
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	c := &Collect{}
	if c.Help, _ = fs.GetBool("help"); c.Help {
		return c, nil
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("collect takes no arguments (got %q)", fs.Args())
	}
	for _, k := range kafkaPublishOnly {
		if fs.Changed(k) {
			return nil, fmt.Errorf("--%s is how a sensor publishes its records; sensor collect only reads them: give it to the sensors", k)
		}
	}
	v := viper.New()
	v.SetEnvPrefix("SENSOR")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AllowEmptyEnv(true) // set is set, even to nothing
	// From the environment, as from a config file, collect takes only the
	// keys it shares with the sensors and its own: the sensors' SENSOR_OUTPUT
	// in an environment both read was the file collect truncated.
	for _, k := range append(append([]string{kWindow, kLookback, kHorizons}, collectOnly...), kafkaKeys...) {
		if err := v.BindEnv(k); err != nil {
			return nil, err
		}
	}
	keys := append(slices.Clone(collectKeys), kafkaKeys...)
	for _, k := range keys {
		if err := v.BindPFlag(k, fs.Lookup(k)); err != nil {
			return nil, err
		}
	}
	file, _ := fs.GetString("config")
	if !fs.Changed("config") {
		file = os.Getenv("SENSOR_CONFIG") // as the sensor reads it
	}
	inFile := func(string) bool { return false }
	if file != "" {
		// The sensors' file is welcome, checked as theirs is (a misspelt
		// key, a number YAML reads as octal), but collect takes from it
		// only the keys it shares with them (the window, the lookback and
		// the horizons fitted to that window, the Kafka keys) and its own:
		// the sensors' output, id, other growth settings and logging are
		// theirs (`--once` with the
		// sensors' file wrote the fleet's records over their output).
		fv := viper.New()
		inFile = fv.InConfig
		if err := readFile(fv, file, append(slices.Clone(fileKeys), collectOnly...)); err != nil {
			return nil, err
		}
		for _, k := range append(append([]string{kWindow, kLookback, kHorizons}, collectOnly...), kafkaKeys...) {
			if fv.IsSet(k) {
				v.SetDefault(k, fv.Get(k)) // under the flags and the environment, over the flags' defaults
			}
		}
	}
	if err := c.fill(v); err != nil {
		return c, sourced(err, fs, file, inFile)
	}
	return c, nil
}

func (c *Collect) fill(v *viper.Viper) error {
	var err error
	if c.Output = strings.TrimSpace(v.GetString(kOutput)); c.Output == "" {
		return keyErr(kOutput, errors.New("empty: give a file name or - for stdout"))
	}
	if c.Once, err = boolKey(v, kOnce); err != nil {
		return err
	}
	if c.SensorID = strings.TrimSpace(v.GetString(kSensorID)); c.SensorID == "" {
		return keyErr(kSensorID, errors.New("empty"))
	} else if err := output.CheckSensorID(c.SensorID); err != nil {
		return keyErr(kSensorID, err)
	}
	if c.Group = strings.TrimSpace(v.GetString(kGroup)); c.Group == "" {
		return keyErr(kGroup, errors.New("empty"))
	}
	if c.Window, err = duration(v, kWindow); err != nil {
		return err
	}
	if c.Lookback, err = duration(v, kLookback); err != nil {
		return err
	}
	c.MaxLag = 2 * c.Window
	if s := strings.TrimSpace(v.GetString(kMaxLag)); s != "" {
		if c.MaxLag, err = duration(v, kMaxLag); err != nil {
			return err
		}
		if c.MaxLag < c.Window {
			// A live sensor is heard from once a window: shorter, every
			// sensor was silent between its records (a review).
			return keyErr(kMaxLag, fmt.Errorf("%v is shorter than a window (%v): a sensor is heard from once a window; give at least that (default two windows)", c.MaxLag, c.Window))
		}
	}
	e := engine.DefaultConfig()
	e.Window, e.Lookback = c.Window, c.Lookback
	if err := e.Validate(); err != nil {
		return keyedErr(err)
	}
	on, err := boolKey(v, kGrowth)
	if err != nil {
		return err
	}
	c.GrowthOff = !on
	c.Growth = growth.DefaultConfig()
	if v.IsSet(kHorizons) {
		c.Growth.Horizons = nil
		for _, s := range stringList(v, kHorizons) {
			d, err := ParseDuration(s)
			if err != nil || d <= 0 {
				return keyErr(kHorizons, fmt.Errorf("%q is not a positive duration", s))
			}
			c.Growth.Horizons = append(c.Growth.Horizons, d)
		}
	}
	if !c.GrowthOff {
		if err := growthFits(&c.Growth, c.Window, v.IsSet(kHorizons)); err != nil {
			return keyedErr(err)
		}
	}
	if c.LogLevel, err = oneOf(v, kLogLevel, "debug", "info", "warn", "error"); err != nil {
		return err
	}
	if c.LogFormat, err = oneOf(v, kLogFormat, "auto", "console", "json"); err != nil {
		return err
	}
	if err := c.Kafka.fill(v, c.Window); err != nil {
		return err
	}
	if len(c.Kafka.Brokers) == 0 {
		return errors.New("kafka-brokers: sensor collect needs the brokers the sensors publish to")
	}
	return nil
}
