// Package plant proves that the model check finds known bugs: its test
// plants each bug of a list into a copy of an orchestrator's source — a
// fix reverted, a protocol step dropped, a rule broken — builds the tests
// with that copy in place of the file (go test -overlay, so no production
// package carries a planted-bug branch), and requires the generated
// exploration alone to report a violation.
//
// Run it with make planted; it prints "planted bugs found by the explorer:
// K/K".
package plant
