// Package readme holds the test that keeps the README's Go code blocks
// compiling: each block is written into a scratch package inside the module
// and vetted (which type-checks it, tests included).
package readme
