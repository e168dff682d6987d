// Package alert delivers alert records to the operator's hooks: a program
// run with the alert's JSON on its standard input (--alert-exec) and an
// HTTP endpoint it is POSTed to (--alert-webhook). Delivery runs on its
// own goroutine behind a bounded queue: the capture never waits for a
// hook; a full queue drops the alert and counts it (the alert is still in
// the JSONL stream). Every delivery is bounded in time.
//
// It must not import the engine, capture or output packages.
package alert
