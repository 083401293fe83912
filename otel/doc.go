// Package otel records the hooks of statefold's orchestrators as
// OpenTelemetry metrics and spans. It is its own module, so that a
// program that does not import it gets no OpenTelemetry module.
//
//	h, err := otel.Hooks() // the global meter and tracer providers
//	p, err := applystate.NewProjector(store, store, applystate.WithHooks(h))
//	o, err := batchstate.New(store, store, machine, batchstate.WithHooks(h))
//
// Every public call is a span named after its package and method
// ("applystate.Drive", "batchstate.Transition"), of kind internal, with
// the ids it was given (statefold.apply.id, statefold.operation.id,
// statefold.queue, statefold.batch.id), its outcome, error.type and an
// error status when it failed; the events within it (conflicts, retries,
// ambiguous writes, ...) are span events.
//
// The metrics, each with the attributes statefold.orchestrator and
// statefold.method (and error.type, statefold.reason where they apply):
//
//	statefold.call.duration       histogram, s: the latency of every call
//	statefold.calls               counter, {call}: calls
//	statefold.apply.outcomes      counter, {call}: applystate calls returning a Result,
//	                              by statefold.apply.state, statefold.directive, statefold.terminalized
//	statefold.conflicts           counter, {write}: conditional writes lost (statefold.reason: the store method)
//	statefold.ambiguous_writes    counter, {write}: writes of unknown outcome (likewise)
//	statefold.retries             counter, {round}: rounds started again
//	statefold.list.rereads        counter, {read}: List reading the index again
//	statefold.takeovers           counter, {takeover}: an operation or a Reconcile lease taken over
//	statefold.index.removals      counter, {row}: index rows Reconcile removed, by reason
//	statefold.fences              counter, {write}: writes Reconcile fenced off
//	statefold.prunes              counter, {batch}: batches Prune turned into tombstones
//
// Ids are span attributes only: they would make a metric's cardinality
// unbounded.
package otel
