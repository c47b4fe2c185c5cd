package recording

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// S3Config says where an S3Store keeps recordings.
type S3Config struct {
	// Bucket and Prefix come from --recording-store=s3://bucket/prefix.
	Bucket, Prefix string
	// Endpoint is the server's URL; empty means AWS's regional endpoint.
	// A server of one's own (a given endpoint) is addressed path-style
	// (https://host/bucket/key), AWS virtual-hosted style.
	Endpoint string
	Region   string
	// CredentialsFile is an AWS shared-credentials file (its [default]
	// profile, or its only one); empty means AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN from the environment.
	CredentialsFile string
	// HTTPClient is http.DefaultClient unless set.
	HTTPClient *http.Client
}

// S3Store keeps recordings as objects in an S3-compatible bucket, under
// Prefix, so that every replica writes and reads the same recordings. It
// speaks the S3 REST API itself (PutObject, GetObject, ListObjectsV2,
// DeleteObject, signed with AWS Signature Version 4); a PutObject is atomic, so a crash
// leaves whole chunks only.
type S3Store struct {
	cfg       S3Config
	base      *url.URL
	pathStyle bool
	client    *http.Client
}

// ParseS3URL splits s3://bucket/prefix.
func ParseS3URL(s string) (bucket, prefix string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return "", "", fmt.Errorf("%q is not s3://bucket/prefix", s)
	}
	return u.Host, strings.Trim(u.Path, "/"), nil
}

// NewS3Store checks cfg and returns the store; it does not reach the
// server (Put and Get do, and say what went wrong).
func NewS3Store(cfg S3Config) (*S3Store, error) {
	if cfg.Bucket == "" {
		return nil, fmt.Errorf("the S3 recording store needs a bucket")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	s := &S3Store{cfg: cfg, client: cfg.HTTPClient}
	if s.client == nil {
		s.client = http.DefaultClient
	}
	endpoint := cfg.Endpoint
	s.pathStyle = endpoint != ""
	if endpoint == "" {
		endpoint = "https://s3." + cfg.Region + ".amazonaws.com"
	}
	base, err := url.Parse(endpoint)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("the S3 endpoint %q is not an http(s) URL", endpoint)
	}
	if !s.pathStyle {
		base.Host = cfg.Bucket + "." + base.Host
	}
	s.base = base
	if _, err := s.credentials(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *S3Store) objectKey(key string) string {
	if s.cfg.Prefix == "" {
		return key
	}
	return s.cfg.Prefix + "/" + key
}

// request builds a request for an object key ("" is the bucket itself).
func (s *S3Store) request(ctx context.Context, method, key string, query url.Values, body []byte) (*http.Request, error) {
	u := *s.base
	path := "/"
	if s.pathStyle {
		path += s.cfg.Bucket
		if key != "" {
			path += "/"
		}
	}
	path += key
	u.Path = path
	u.RawPath = uriEncode(path, false)
	u.RawQuery = canonicalQuery(query)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.ContentLength = int64(len(body))
	creds, err := s.credentials()
	if err != nil {
		return nil, err
	}
	sign(req, body, creds, s.cfg.Region, time.Now())
	return req, nil
}

// do sends a request and returns the body of a 2xx answer.
func (s *S3Store) do(ctx context.Context, method, key string, query url.Values, body []byte) ([]byte, error) {
	req, err := s.request(ctx, method, key, query, body)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return data, nil
	}
	var e struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	_ = xml.Unmarshal(data, &e)
	if resp.StatusCode == http.StatusNotFound && (e.Code == "" || e.Code == "NoSuchKey") {
		return nil, ErrNotFound
	}
	if e.Code == "" {
		e.Code = resp.Status
	}
	return nil, fmt.Errorf("S3 answered %d %s: %s", resp.StatusCode, e.Code, e.Message)
}

func (s *S3Store) Put(ctx context.Context, key string, data []byte) error {
	if _, err := s.do(ctx, http.MethodPut, s.objectKey(key), nil, data); err != nil {
		return fmt.Errorf("putting s3://%s/%s: %w", s.cfg.Bucket, s.objectKey(key), err)
	}
	return nil
}

func (s *S3Store) Get(ctx context.Context, key string) ([]byte, error) {
	data, err := s.do(ctx, http.MethodGet, s.objectKey(key), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("getting s3://%s/%s: %w", s.cfg.Bucket, s.objectKey(key), err)
	}
	return data, nil
}

func (s *S3Store) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	token := ""
	for {
		q := url.Values{"list-type": {"2"}, "prefix": {s.objectKey(prefix)}}
		if token != "" {
			q.Set("continuation-token", token)
		}
		data, err := s.do(ctx, http.MethodGet, "", q, nil)
		if err != nil {
			return nil, fmt.Errorf("listing s3://%s/%s: %w", s.cfg.Bucket, s.objectKey(prefix), err)
		}
		var page struct {
			Contents []struct {
				Key string `xml:"Key"`
			} `xml:"Contents"`
			IsTruncated           bool   `xml:"IsTruncated"`
			NextContinuationToken string `xml:"NextContinuationToken"`
		}
		if err := xml.Unmarshal(data, &page); err != nil {
			return nil, fmt.Errorf("reading the listing of s3://%s/%s: %w", s.cfg.Bucket, s.objectKey(prefix), err)
		}
		for _, c := range page.Contents {
			keys = append(keys, strings.TrimPrefix(c.Key, s.objectKey("")))
		}
		if !page.IsTruncated || page.NextContinuationToken == "" {
			return keys, nil // ListObjectsV2 returns keys in lexical order
		}
		token = page.NextContinuationToken
	}
}

// Delete lists the recording's objects and deletes them one by one: a
// recording has a few objects a second of bulk output, and DeleteObjects
// (up to 1000 at once) would need a Content-MD5 header of its own.
func (s *S3Store) Delete(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	keys, err := s.List(ctx, id+"/")
	if err != nil {
		return fmt.Errorf("deleting recording %s: %w", id, err)
	}
	for _, key := range keys {
		if _, err := s.do(ctx, http.MethodDelete, s.objectKey(key), nil, nil); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("deleting s3://%s/%s: %w", s.cfg.Bucket, s.objectKey(key), err)
		}
	}
	return nil
}

func (s *S3Store) Location(id string) string {
	return "s3://" + s.cfg.Bucket + "/" + s.objectKey(id) + "/"
}
