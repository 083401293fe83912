// Package netfault injects faults where they really happen, below a
// backend: an HTTP client for the AWS SDK that loses responses, throttles,
// fails and delays DynamoDB calls, and a loopback TCP proxy for database
// servers that cuts, stalls, refuses and resets connections. The backend
// tests use them to run the contract suite's scenarios under real network
// faults.
package netfault

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Kind is a kind of injected fault.
type Kind string

// The fault kinds.
const (
	// DropResponse forwards the request and then fails it as a reset
	// connection, so the SDK retries a request that has landed.
	DropResponse Kind = "drop-response"
	// Throttle answers 400 ThrottlingException without forwarding.
	Throttle Kind = "throttle"
	// ServerError answers 500 InternalServerError without forwarding.
	ServerError Kind = "server-error"
	// Delay holds the request for a while, then forwards it.
	Delay Kind = "delay"
	// ResetBefore fails the request as a reset connection without
	// forwarding it: the client cannot tell that it was not sent.
	ResetBefore Kind = "reset-before"
	// Damage forwards the request and answers 200 with a body that does
	// not parse: the request ran, and its response is unreadable.
	Damage Kind = "damage"
	// Deny answers 400 AccessDeniedException without forwarding: an
	// error no retry clears.
	Deny Kind = "access-denied"
	// OldItem is not chosen by a Decide function: it counts condition
	// failures the transport answered with the stored item, as DynamoDB
	// does for ReturnValuesOnConditionCheckFailure ALL_OLD.
	OldItem Kind = "old-item"
	// Cut, Stall, Refuse and Reset are the proxy's kinds.
	Cut    Kind = "cut"
	Stall  Kind = "stall"
	Refuse Kind = "refuse"
	Reset  Kind = "reset"
)

// Summary returns the total of counts and a line naming each kind with its
// count, in name order, for the tests' reports.
func Summary(counts map[Kind]int) (int, string) {
	total := 0
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		total += counts[k]
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	return total, strings.Join(parts, ", ")
}

// Doer is an HTTP client: *http.Client and the AWS SDK's HTTPClient.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Transport is an HTTP client for the DynamoDB API (the SDK's HTTPClient)
// that injects faults. It is safe for concurrent use.
type Transport struct {
	// Base sends the requests that are forwarded.
	Base Doer
	// Decide picks the fault for one request, by its operation (the
	// X-Amz-Target after the dot, for example "PutItem"); "" forwards it.
	// Nil forwards everything.
	Decide func(op string) Kind
	// DelayFor is how long a Delay holds a request (default 20ms).
	DelayFor time.Duration
	// KeyNames returns the key attribute names of a table. With it, a
	// PutItem that asked for ReturnValuesOnConditionCheckFailure ALL_OLD
	// and failed its condition without the stored item (emulators ignore
	// the parameter) is answered with the item, read by a consistent
	// GetItem: the answer real DynamoDB gives.
	KeyNames func(table string) []string

	mu     sync.Mutex
	counts map[Kind]int
}

// Counts returns how many faults of each kind were injected.
func (t *Transport) Counts() map[Kind]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.counts)
}

func (t *Transport) count(k Kind) {
	t.mu.Lock()
	if t.counts == nil {
		t.counts = map[Kind]int{}
	}
	t.counts[k]++
	t.mu.Unlock()
}

// Do implements [Doer].
func (t *Transport) Do(req *http.Request) (*http.Response, error) {
	op := req.Header.Get("X-Amz-Target")
	if i := strings.LastIndexByte(op, '.'); i >= 0 {
		op = op[i+1:]
	}
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	kind := Kind("")
	if t.Decide != nil {
		kind = t.Decide(op)
	}
	switch kind {
	case Throttle:
		t.count(kind)
		return answer(req, http.StatusBadRequest, "ThrottlingException", "Rate of requests exceeds the allowed throughput."), nil
	case ServerError:
		t.count(kind)
		return answer(req, http.StatusInternalServerError, "InternalServerError", "Internal server error"), nil
	case Deny:
		t.count(kind)
		return answer(req, http.StatusBadRequest, "AccessDeniedException", "User is not authorized to perform this action"), nil
	case ResetBefore:
		t.count(kind)
		return nil, &net.OpError{Op: "write", Net: "tcp", Err: syscall.ECONNRESET}
	case Delay:
		t.count(kind)
		d := t.DelayFor
		if d == 0 {
			d = 20 * time.Millisecond
		}
		select {
		case <-time.After(d):
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	resp, err := t.Base.Do(req)
	if err != nil {
		return nil, err
	}
	if kind == Damage {
		t.count(kind)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		garbled := []byte(`{"Item": {"queue": `)
		resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(garbled)), int64(len(garbled))
		resp.StatusCode, resp.Status = http.StatusOK, "200 OK"
		resp.Header.Del("Content-Length")
		resp.Header.Del("X-Amz-Crc32")
		return resp, nil
	}
	if kind == DropResponse {
		t.count(kind)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	}
	if op == "PutItem" && resp.StatusCode == http.StatusBadRequest && t.KeyNames != nil {
		return t.withOldItem(req, body, resp)
	}
	return resp, nil
}

// answer is a DynamoDB error response of the given type.
func answer(req *http.Request, status int, typ, msg string) *http.Response {
	b, _ := json.Marshal(map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#" + typ, "message": msg})
	return &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Requestid": {"netfault"}},
		Body:   io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)), Request: req,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
}

// withOldItem adds the stored item to a ConditionalCheckFailedException
// of a PutItem that asked for ALL_OLD and got no item.
func (t *Transport) withOldItem(req *http.Request, body []byte, resp *http.Response) (*http.Response, error) {
	raw, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	var fail map[string]json.RawMessage
	var put struct {
		TableName                           string
		Item                                map[string]json.RawMessage
		ReturnValuesOnConditionCheckFailure string
	}
	if json.Unmarshal(raw, &fail) != nil || !strings.HasSuffix(strings.Trim(string(fail["__type"]), `"`), "ConditionalCheckFailedException") ||
		fail["Item"] != nil || json.Unmarshal(body, &put) != nil || put.ReturnValuesOnConditionCheckFailure != "ALL_OLD" {
		return resp, nil
	}
	key := map[string]json.RawMessage{}
	for _, name := range t.KeyNames(put.TableName) {
		key[name] = put.Item[name]
	}
	getBody, _ := json.Marshal(map[string]any{"TableName": put.TableName, "Key": key, "ConsistentRead": true})
	get, err := http.NewRequestWithContext(req.Context(), http.MethodPost, req.URL.String(), bytes.NewReader(getBody))
	if err != nil {
		return resp, nil
	}
	get.Header = req.Header.Clone()
	get.Header.Set("X-Amz-Target", "DynamoDB_20120810.GetItem")
	get.Header.Del("Content-Length")
	got, err := t.Base.Do(get)
	if err != nil {
		return resp, nil
	}
	defer got.Body.Close()
	var item struct{ Item json.RawMessage }
	if json.NewDecoder(got.Body).Decode(&item) != nil || item.Item == nil {
		return resp, nil // no stored row: DynamoDB returns no item either
	}
	fail["Item"] = item.Item
	out, _ := json.Marshal(fail)
	t.count(OldItem)
	resp.Body = io.NopCloser(bytes.NewReader(out))
	resp.ContentLength = int64(len(out))
	resp.Header.Del("Content-Length")
	resp.Header.Del("X-Amz-Crc32") // the body changed
	return resp, nil
}
