package recording

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"
)

// s3Credentials sign requests; they are never logged.
type s3Credentials struct {
	accessKey, secretKey, sessionToken string
}

// credentials are read for every request, so that a rotated file (a
// mounted Secret) is used as soon as it changes.
func (s *S3Store) credentials() (s3Credentials, error) {
	if s.cfg.CredentialsFile == "" {
		c := s3Credentials{os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")}
		if c.accessKey == "" || c.secretKey == "" {
			return c, errors.New("the S3 recording store needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment, or --recording-s3-credentials-file")
		}
		return c, nil
	}
	data, err := os.ReadFile(s.cfg.CredentialsFile)
	if err != nil {
		return s3Credentials{}, fmt.Errorf("reading the S3 credentials file: %w", err)
	}
	profiles := parseCredentials(data)
	c, ok := profiles["default"]
	if !ok && len(profiles) == 1 {
		for _, only := range profiles {
			c = only
		}
	}
	if c.accessKey == "" || c.secretKey == "" {
		return c, fmt.Errorf("the S3 credentials file %s has no [default] profile with aws_access_key_id and aws_secret_access_key", s.cfg.CredentialsFile)
	}
	return c, nil
}

// parseCredentials reads an AWS shared-credentials file.
func parseCredentials(data []byte) map[string]s3Credentials {
	out := map[string]s3Credentials{}
	profile := "default"
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			profile = strings.TrimSpace(strings.TrimPrefix(line[1:len(line)-1], "profile "))
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		c := out[profile]
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "aws_access_key_id":
			c.accessKey = strings.TrimSpace(v)
		case "aws_secret_access_key":
			c.secretKey = strings.TrimSpace(v)
		case "aws_session_token":
			c.sessionToken = strings.TrimSpace(v)
		}
		out[profile] = c
	}
	return out
}

// sign adds AWS Signature Version 4 headers to req.
func sign(req *http.Request, body []byte, c s3Credentials, region string, now time.Time) {
	now = now.UTC()
	amzDate := now.Format("20060102T150405Z")
	day := now.Format("20060102")
	payload := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(payload[:])
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if c.sessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", c.sessionToken)
	}
	headers := map[string]string{"host": req.URL.Host}
	for name := range req.Header {
		headers[strings.ToLower(name)] = strings.TrimSpace(req.Header.Get(name))
	}
	names := make([]string, 0, len(headers))
	for n := range headers {
		names = append(names, n)
	}
	sort.Strings(names)
	var canonicalHeaders strings.Builder
	for _, n := range names {
		canonicalHeaders.WriteString(n + ":" + headers[n] + "\n")
	}
	signedHeaders := strings.Join(names, ";")
	canonical := strings.Join([]string{
		req.Method, req.URL.EscapedPath(), req.URL.RawQuery,
		canonicalHeaders.String(), signedHeaders, payloadHash,
	}, "\n")
	scope := day + "/" + region + "/s3/aws4_request"
	canonicalHash := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(canonicalHash[:])
	key := hmacSHA256([]byte("AWS4"+c.secretKey), day)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, "s3")
	key = hmacSHA256(key, "aws4_request")
	signature := hex.EncodeToString(hmacSHA256(key, toSign))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+c.accessKey+"/"+scope+
		", SignedHeaders="+signedHeaders+", Signature="+signature)
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// uriEncode is SigV4's encoding: every byte but the unreserved ones, and
// '/' too unless it separates a path.
func uriEncode(s string, encodeSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// canonicalQuery is the query sorted and encoded as SigV4 signs it; the
// request is sent with exactly this string.
func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			parts = append(parts, uriEncode(k, true)+"="+uriEncode(v, true))
		}
	}
	return strings.Join(parts, "&")
}
