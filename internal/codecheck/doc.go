// Package codecheck keeps the orchestrators and the store contract
// readable. Its tests parse the production files of applystate,
// batchstate, storage and its backends (memory, mysql, postgres, dynamo
// and their shared SQL layer) with go/ast and fail on a function longer
// than 60 lines, a package doc longer than 120 lines, or an exported
// identifier without a doc comment.
package codecheck
