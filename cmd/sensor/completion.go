package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/synscope/synscope/pkg/config"
	"github.com/synscope/synscope/pkg/report"
)

const completionUsage = `Usage: sensor completion bash|zsh|fish

Prints a shell completion script for sensor: its flags, the values of the
flags that take a fixed set (--capture, --log-level, report's --format...),
interface names after -i, file names after -r, -o and the report's inputs.

  source <(sensor completion bash)                          # bash, this shell
  sensor completion bash > /etc/bash_completion.d/sensor    # bash, for everyone
  sensor completion zsh > "${fpath[1]}/_sensor"             # zsh (compinit)
  sensor completion fish > ~/.config/fish/completions/sensor.fish
`

// subcommands are the words sensor takes in place of a capture file.
var subcommands = []string{"report", "collect", "help", "completion"}

var shells = []string{"bash", "zsh", "fish"}

// flagKind says what a flag's value is, for completion.
type flagKind int

const (
	valNone   flagKind = iota // a boolean: no value
	valAny                    // a value with nothing to suggest (a duration, a number)
	valFile                   // a file name
	valIface                  // a network interface
	valChoice                 // one of choices
)

type compFlag struct {
	long, short, usage string
	kind               flagKind
	choices            []string
	repeat             bool // may be given more than once
}

// Flags whose value is a file, an interface, or one of a fixed set. The
// rest are booleans (from the flag set) or free values.
var (
	fileFlags = map[string]bool{"read": true, "output": true, "config": true, "state-file": true,
		"benign": true, "mmdb": true, "alert-exec": true,
		"kafka-tls-ca": true, "kafka-tls-cert": true, "kafka-tls-key": true, "kafka-spool": true}
	choiceFlag = map[string][]string{
		"capture":           {"auto", "ebpf", "afpacket"},
		"ingress-hook":      {"auto", "xdp", "xdp-generic", "tc"},
		"log-level":         {"debug", "info", "warn", "error"},
		"log-format":        {"auto", "console", "json"},
		"progress":          {"auto", "always", "never"},
		"growth-diurnal":    {"auto", "on", "off"},
		"format":            {"html", "svg", "png"},
		"chart":             report.ChartNames,
		"kafka-sasl":        {"plain", "scram-sha-256", "scram-sha-512"},
		"kafka-compression": {"zstd", "lz4", "snappy", "gzip", "none"},
	}
)

func compFlags(fs *pflag.FlagSet) []compFlag {
	var out []compFlag
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden { // (collect's publishing flags, which it refuses)
			return
		}
		c := compFlag{long: f.Name, short: f.Shorthand, usage: shortUsage(f.Usage),
			repeat: strings.HasSuffix(f.Value.Type(), "Array") || strings.HasSuffix(f.Value.Type(), "Slice")}
		switch {
		case f.Value.Type() == "bool":
			c.kind = valNone
		case fileFlags[f.Name]:
			c.kind = valFile
		case f.Name == "iface":
			c.kind = valIface
		case choiceFlag[f.Name] != nil:
			c.kind, c.choices = valChoice, choiceFlag[f.Name]
		default:
			c.kind = valAny
		}
		out = append(out, c)
	})
	sort.Slice(out, func(i, j int) bool { return out[i].long < out[j].long })
	return out
}

// shortUsage is a flag's usage cut to its first clause, without the
// characters the shells' description syntaxes treat specially.
func shortUsage(u string) string {
	if i := strings.IndexAny(u, "(;:"); i > 0 {
		u = u[:i]
	}
	u = strings.NewReplacer("`", "", "'", "", "\"", "", "[", "", "]", "", "\\", "", "$", "").Replace(u)
	return strings.TrimSpace(u)
}

func runCompletion(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, completionUsage)
		return exitOK
	}
	if len(args) != 1 {
		fmt.Fprintf(stderr, "sensor completion: name one shell: %s\n\n%s", strings.Join(shells, ", "), completionUsage)
		return exitUsage
	}
	main, rep, col := compFlags(config.FlagSet()), compFlags(newReportFlags().fs), compFlags(config.CollectFlagSet())
	switch args[0] {
	case "bash":
		writeBash(stdout, main, rep, col)
	case "zsh":
		writeZsh(stdout, main, rep, col)
	case "fish":
		writeFish(stdout, main, rep, col)
	default:
		fmt.Fprintf(stderr, "sensor completion: unknown shell %q: bash, zsh or fish\n", args[0])
		return exitUsage
	}
	return exitOK
}

// runHelp is `sensor help [TOPIC]`.
func runHelp(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		usage(stdout)
	case args[0] == "report":
		reportHelp(stdout)
	case args[0] == "completion":
		fmt.Fprint(stdout, completionUsage)
	case args[0] == "collect":
		collectUsage(stdout)
	default:
		fmt.Fprintf(stderr, "sensor help: no help on %q: try 'sensor help', 'sensor help report', 'sensor help collect' or 'sensor help completion'\n", args[0])
		return exitUsage
	}
	return exitOK
}

func names(fl []compFlag) string {
	var w []string
	for _, f := range fl {
		w = append(w, "--"+f.long)
		if f.short != "" {
			w = append(w, "-"+f.short)
		}
	}
	return strings.Join(w, " ")
}

// bashValueCases writes the case arms that complete a flag's value.
func bashValueCases(w io.Writer, fl []compFlag) {
	for _, f := range fl {
		if f.kind == valNone {
			continue
		}
		pat := "--" + f.long
		if f.short != "" {
			pat += "|-" + f.short
		}
		switch f.kind {
		case valFile:
			fmt.Fprintf(w, "\t\t%s) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", pat)
		case valIface:
			fmt.Fprintf(w, "\t\t%s) COMPREPLY=($(compgen -W \"$(ls /sys/class/net 2>/dev/null)\" -- \"$cur\")); return ;;\n", pat)
		case valChoice:
			fmt.Fprintf(w, "\t\t%s) COMPREPLY=($(compgen -W %q -- \"$cur\")); return ;;\n", pat, strings.Join(f.choices, " "))
		default:
			fmt.Fprintf(w, "\t\t%s) COMPREPLY=(); return ;;\n", pat)
		}
	}
}

func writeBash(w io.Writer, main, rep, col []compFlag) {
	fmt.Fprintf(w, `# bash completion for sensor (synscope); generated by 'sensor completion bash'
_sensor() {
	local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
	local sub=""
	[ "$COMP_CWORD" -gt 1 ] && sub="${COMP_WORDS[1]}"
	case "$sub" in
	completion) [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W %q -- "$cur")); return ;;
	help) [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "report collect completion" -- "$cur")); return ;;
	collect)
		case "$prev" in
`, strings.Join(shells, " "))
	bashValueCases(w, col)
	fmt.Fprintf(w, `		esac
		COMPREPLY=($(compgen -W %q -- "$cur"))
		return ;;
	report)
		case "$prev" in
`, names(col))
	bashValueCases(w, rep)
	fmt.Fprintf(w, `		esac
		if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W %q -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi
		return ;;
	esac
	case "$prev" in
`, names(rep))
	bashValueCases(w, main)
	fmt.Fprintf(w, `	esac
	if [[ "$cur" == -* ]]; then
		COMPREPLY=($(compgen -W %q -- "$cur"))
	elif [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W %q -- "$cur") $(compgen -f -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -o filenames -o bashdefault -F _sensor sensor
`, names(main), strings.Join(subcommands, " "))
}

func zshSpecs(w io.Writer, fl []compFlag) {
	for _, f := range fl {
		var action string
		switch f.kind {
		case valNone:
		case valFile:
			action = ":file:_files"
		case valIface:
			action = ":interface:_net_interfaces"
		case valChoice:
			action = ":value:(" + strings.Join(f.choices, " ") + ")"
		default:
			action = ":value: "
		}
		switch {
		case f.short != "" && f.repeat:
			fmt.Fprintf(w, "\t\t'*'{-%s,--%s}'[%s]%s' \\\n", f.short, f.long, f.usage, action)
		case f.short != "":
			fmt.Fprintf(w, "\t\t'(-%s --%s)'{-%s,--%s}'[%s]%s' \\\n", f.short, f.long, f.short, f.long, f.usage, action)
		case f.repeat:
			fmt.Fprintf(w, "\t\t'*--%s[%s]%s' \\\n", f.long, f.usage, action)
		default:
			fmt.Fprintf(w, "\t\t'--%s[%s]%s' \\\n", f.long, f.usage, action)
		}
	}
}

func writeZsh(w io.Writer, main, rep, col []compFlag) {
	fmt.Fprintf(w, `#compdef sensor
# zsh completion for sensor (synscope); generated by 'sensor completion zsh'
_sensor() {
	case ${words[2]} in
	completion) (( CURRENT == 3 )) && _values shell %s; return ;;
	help) (( CURRENT == 3 )) && _values topic report collect completion; return ;;
	collect)
		shift words; (( CURRENT-- ))
		_arguments -s \
`, strings.Join(shells, " "))
	zshSpecs(w, col)
	fmt.Fprint(w, `		&& return
		return ;;
	report)
		shift words; (( CURRENT-- ))
		_arguments -s \
`)
	zshSpecs(w, rep)
	fmt.Fprint(w, `		'*:JSONL file:_files'
		return ;;
	esac
	if (( CURRENT == 2 )) && [[ ${words[2]} != -* ]]; then
		_alternative 'commands:command:(`+strings.Join(subcommands, " ")+`)' 'files:capture file:_files'
		return
	fi
	_arguments -s \
`)
	zshSpecs(w, main)
	fmt.Fprint(w, `		'*:capture file:_files'
}
if [ "$funcstack[1]" = "_sensor" ]; then
	_sensor "$@"
else
	compdef _sensor sensor
fi
`)
}

func writeFish(w io.Writer, main, rep, col []compFlag) {
	fmt.Fprintf(w, `# fish completion for sensor (synscope); generated by 'sensor completion fish'
complete -c sensor -n '__fish_use_subcommand' -a 'report' -d 'draw the records as a page or a chart'
complete -c sensor -n '__fish_use_subcommand' -a 'collect' -d 'the fleet picture from the sensors on Kafka'
complete -c sensor -n '__fish_use_subcommand' -a 'help' -d 'help on sensor or a subcommand'
complete -c sensor -n '__fish_use_subcommand' -a 'completion' -d 'print a shell completion script'
complete -c sensor -n '__fish_seen_subcommand_from completion' -f -a '%s'
complete -c sensor -n '__fish_seen_subcommand_from help' -f -a 'report collect completion'
`, strings.Join(shells, " "))
	fishFlags(w, main, "not __fish_seen_subcommand_from "+strings.Join(subcommands, " "))
	fishFlags(w, rep, "__fish_seen_subcommand_from report")
	fishFlags(w, col, "__fish_seen_subcommand_from collect")
}

func fishFlags(w io.Writer, fl []compFlag, cond string) {
	for _, f := range fl {
		fmt.Fprintf(w, "complete -c sensor -n '%s' -l %s", cond, f.long)
		if f.short != "" {
			fmt.Fprintf(w, " -s %s", f.short)
		}
		switch f.kind {
		case valFile:
			fmt.Fprint(w, " -r -F")
		case valIface:
			fmt.Fprint(w, " -x -a '(path basename /sys/class/net/*)'")
		case valChoice:
			fmt.Fprintf(w, " -x -a '%s'", strings.Join(f.choices, " "))
		case valAny:
			fmt.Fprint(w, " -x")
		}
		fmt.Fprintf(w, " -d '%s'\n", f.usage)
	}
}
