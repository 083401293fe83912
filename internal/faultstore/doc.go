// Package faultstore wraps a storage.Store to count its calls and inject
// faults into them: a call that fails before it reaches the store, one
// whose response is lost after it landed, or one held until released.
// The contract suite, the interleaving explorer and the orchestrators'
// tests drive stores through it; storagetest exports it to backend authors
// as storagetest.FaultStore.
package faultstore
