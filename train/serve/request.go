package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Limits bound what one request may ask. A request over a limit is answered 413 with a JSON
// error naming the limit's flag; the zero value of a field means no limit.
type Limits struct {
	// MaxBodyBytes bounds the request body (--max-body-bytes).
	MaxBodyBytes int64
	// MaxItems bounds the messages (or pairs) of one request (--max-messages).
	MaxItems int
	// MaxTextBytes bounds each message or sentence, in bytes of UTF-8 (--max-message-bytes).
	MaxTextBytes int
}

// DefaultLimits are the commands' defaults: 1 MiB bodies, 256 messages per request, 4 KiB
// per message (the longest SMS of the SMS Spam Collection is 910 bytes).
func DefaultLimits() Limits {
	return Limits{MaxBodyBytes: 1 << 20, MaxItems: 256, MaxTextBytes: 4096}
}

// Error is a request's failure as the client sees it: an HTTP status and a JSON body
// {"error": Msg, "limit": Limit}, Limit naming the flag of the limit exceeded (omitted for
// other errors).
type Error struct {
	Status int    // HTTP status
	Msg    string // the message, one line
	Limit  string // the flag of the limit exceeded, e.g. "--max-messages"; "" otherwise
}

func (e *Error) Error() string { return e.Msg }

// Errorf returns an *Error with status and a formatted message.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// limitError is a 413 naming the flag of the limit.
func limitError(flag string, format string, args ...any) *Error {
	e := Errorf(http.StatusRequestEntityTooLarge, format, args...)
	e.Limit = flag
	return e
}

// errorBody is the JSON body of an error response.
type errorBody struct {
	Error string `json:"error"`
	Limit string `json:"limit,omitempty"`
}

// WriteError answers err as JSON: an *Error with its status and limit, anything else as 500
// with its message.
func WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Msg: err.Error()}
	}
	WriteJSON(w, e.Status, errorBody{Error: e.Msg, Limit: e.Limit})
}

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: "encoding the response: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// readBody reads r's body under lim.MaxBodyBytes and checks that it is UTF-8 (encoding/json
// would silently turn invalid bytes into U+FFFD).
func readBody(w http.ResponseWriter, r *http.Request, lim Limits) ([]byte, error) {
	body := r.Body
	if lim.MaxBodyBytes > 0 {
		body = http.MaxBytesReader(w, r.Body, lim.MaxBodyBytes)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, limitError("--max-body-bytes", "request body is larger than %d bytes (--max-body-bytes)", mb.Limit)
		}
		var e *Error // a timeout, a drain (see Server.HandleJSON)
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, Errorf(http.StatusBadRequest, "reading the request body: %v", err)
	}
	if !utf8.Valid(b) {
		return nil, Errorf(http.StatusBadRequest, "request body is not valid UTF-8 (at byte %d)", invalidAt(b))
	}
	return bytes.TrimPrefix(b, utf8BOM), nil // a byte order mark is accepted, and dropped
}

// utf8BOM is UTF-8's byte order mark, which some clients put before a JSON body.
var utf8BOM = []byte("\xef\xbb\xbf")

func invalidAt(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// decodeStrict decodes exactly one JSON object of b into v, whose only key is key, refusing
// other keys (matched case-sensitively, unlike encoding/json), a repeated key and trailing
// data, with messages a client can act on.
func decodeStrict(b []byte, v any, key, want string) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return Errorf(http.StatusBadRequest, "empty request body: want %s", want)
	}
	if err := checkKeys(b, key, want); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return Errorf(http.StatusBadRequest, "malformed JSON at byte %d: %v; want %s", se.Offset, se, want)
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "the body"
			}
			return Errorf(http.StatusBadRequest, "%s: got a JSON %s, want %s", field, te.Value, want)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return Errorf(http.StatusBadRequest, "%s; want %s", strings.TrimPrefix(err.Error(), "json: "), want)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return Errorf(http.StatusBadRequest, "malformed JSON: the body ends early; want %s", want)
		}
		return Errorf(http.StatusBadRequest, "malformed JSON: %v; want %s", err, want)
	}
	if dec.More() {
		return Errorf(http.StatusBadRequest, "malformed JSON: data after the object; want %s", want)
	}
	return nil
}

// checkKeys refuses a top-level key of the JSON object b other than key, exactly, and key
// given twice (encoding/json matches keys case-insensitively and keeps the last of
// duplicates). Malformed JSON passes: decodeStrict explains it.
func checkKeys(b []byte, key, want string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	seen := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		k, _ := tok.(string)
		switch {
		case k != key && strings.EqualFold(k, key):
			return Errorf(http.StatusBadRequest, "unknown field %q (keys are case-sensitive); want %s", k, want)
		case k != key:
			return Errorf(http.StatusBadRequest, "unknown field %q; want %s", k, want)
		case seen:
			return Errorf(http.StatusBadRequest, "duplicate key %q; want %s", k, want)
		}
		seen = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return nil
}

// checkText checks one message or sentence: not empty, not over lim.MaxTextBytes. what names
// it in messages ("message 3").
func checkText(s, what string, lim Limits) error {
	if strings.TrimSpace(s) == "" {
		return Errorf(http.StatusBadRequest, "%s is empty", what)
	}
	if lim.MaxTextBytes > 0 && len(s) > lim.MaxTextBytes {
		return limitError("--max-message-bytes", "%s is %d bytes long, over the limit of %d (--max-message-bytes)", what, len(s), lim.MaxTextBytes)
	}
	return nil
}

func checkCount(n int, what string, lim Limits) error {
	if n == 0 {
		return Errorf(http.StatusBadRequest, "no %s: want at least one", what)
	}
	if lim.MaxItems > 0 && n > lim.MaxItems {
		return limitError("--max-messages", "%d %s in one request, over the limit of %d (--max-messages)", n, what, lim.MaxItems)
	}
	return nil
}

// PredictRequest is the body of POST /v1/predict.
type PredictRequest struct {
	Messages []string `json:"messages"`
}

const wantMessages = `{"messages": ["text", ...]}`

// DecodeMessages reads a [PredictRequest] from r and checks it against lim: a UTF-8 JSON
// object with a non-empty list of non-empty messages within the limits. Its errors are
// *Error values (400 or 413) for [WriteError].
func DecodeMessages(w http.ResponseWriter, r *http.Request, lim Limits) ([]string, error) {
	b, err := readBody(w, r, lim)
	if err != nil {
		return nil, err
	}
	var req struct {
		Messages *[]*string `json:"messages"`
	}
	if err := decodeStrict(b, &req, "messages", wantMessages); err != nil {
		return nil, err
	}
	if req.Messages == nil {
		return nil, Errorf(http.StatusBadRequest, `missing "messages": want %s`, wantMessages)
	}
	if err := checkCount(len(*req.Messages), "messages", lim); err != nil {
		return nil, err
	}
	msgs := make([]string, len(*req.Messages))
	for i, m := range *req.Messages {
		if m == nil {
			return nil, Errorf(http.StatusBadRequest, "message %d is null: want a string", i+1)
		}
		if err := checkText(*m, fmt.Sprintf("message %d", i+1), lim); err != nil {
			return nil, err
		}
		msgs[i] = *m
	}
	return msgs, nil
}

// SimilarityRequest is the body of POST /v1/similarity.
type SimilarityRequest struct {
	Pairs [][2]string `json:"pairs"`
}

const wantPairs = `{"pairs": [["sentence a", "sentence b"], ...]}`

// DecodePairs reads a [SimilarityRequest] from r and checks it against lim (a pair counts as
// one item of --max-messages; each sentence is bound by --max-message-bytes). Its errors are
// *Error values for [WriteError].
func DecodePairs(w http.ResponseWriter, r *http.Request, lim Limits) ([][2]string, error) {
	b, err := readBody(w, r, lim)
	if err != nil {
		return nil, err
	}
	var req struct {
		Pairs *[]json.RawMessage `json:"pairs"`
	}
	if err := decodeStrict(b, &req, "pairs", wantPairs); err != nil {
		return nil, err
	}
	if req.Pairs == nil {
		return nil, Errorf(http.StatusBadRequest, `missing "pairs": want %s`, wantPairs)
	}
	if err := checkCount(len(*req.Pairs), "pairs", lim); err != nil {
		return nil, err
	}
	pairs := make([][2]string, len(*req.Pairs))
	for i, raw := range *req.Pairs {
		var p []*string
		if err := json.Unmarshal(raw, &p); err != nil || len(p) != 2 || p[0] == nil || p[1] == nil {
			return nil, Errorf(http.StatusBadRequest, "pair %d: want two sentences, [\"a\", \"b\"]", i+1)
		}
		for k := range 2 {
			if err := checkText(*p[k], fmt.Sprintf("sentence %d of pair %d", k+1, i+1), lim); err != nil {
				return nil, err
			}
			pairs[i][k] = *p[k]
		}
	}
	return pairs, nil
}
