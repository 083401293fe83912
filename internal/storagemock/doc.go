// Package storagemock holds gomock mocks of the storage interfaces, generated
// by mockgen. They exist only to inject errors into the pure packages'
// tests; real behaviour is always tested against real stores.
package storagemock

//go:generate go run go.uber.org/mock/mockgen@v0.6.0 -destination=mocks.go -package=storagemock github.com/statefold/statefold/storage BatchStore,MembershipStore,ApplyStore,OperationStore,Store
