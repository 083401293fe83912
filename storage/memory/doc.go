// Package memory is statefold's in-memory backend: the embedded default and
// the reference implementation of [storage.Store].
//
// A Store is a set of mutex-guarded maps. It is safe for concurrent use,
// copies values in and out (a caller's payload slice is never aliased) and
// normalizes times exactly as every other backend does, so that code tested
// on memory behaves the same on MySQL, PostgreSQL or DynamoDB. Its contents live as long
// as the Store value.
package memory
