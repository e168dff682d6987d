package lifecycle

// Level is how much a Log message matters to the operator.
type Level int8

const (
	Info  Level = iota // what the run did: state loaded, output reopened
	Warn               // the run goes on, but something was ignored or lost
	Error              // something failed; the run goes on without it
)

// Log tells the operator what the run did on the control path. fields are
// key, value pairs (string keys; values of the types a structured logger
// writes as they are: strings, integers). err may be nil. cmd/sensor backs it
// with its logger: no package under pkg/ imports one. Nil logs nothing.
type Log func(level Level, err error, msg string, fields ...any)

func (l Log) say(level Level, err error, msg string, fields ...any) {
	if l != nil {
		l(level, err, msg, fields...)
	}
}
