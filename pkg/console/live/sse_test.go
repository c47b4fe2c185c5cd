package live

import (
	"net/http/httptest"
	"testing"
)

func TestSenderFraming(t *testing.T) {
	rec := httptest.NewRecorder()
	s := newSender(rec)
	if err := s.retry(2000); err != nil {
		t.Fatal(err)
	}
	if err := s.event(eventChanged, "41\n\nevent: forged", "changed"); err != nil {
		t.Fatal(err)
	}
	if err := s.event(eventEnded, "", "403 Forbidden:\r\nline two\revent: forged"); err != nil {
		t.Fatal(err)
	}
	if err := s.comment("keep\nalive"); err != nil {
		t.Fatal(err)
	}
	if err := s.id("57"); err != nil {
		t.Fatal(err)
	}
	want := "retry: 2000\n\n" +
		"id: 41  event: forged\nevent: changed\ndata: changed\n\n" +
		"event: ended\ndata: 403 Forbidden:\ndata: line two\ndata: event: forged\n\n" +
		": keep alive\n\n" +
		"id: 57\n\n"
	if got := rec.Body.String(); got != want {
		t.Errorf("the stream is\n%q\nwant\n%q", got, want)
	}
	if !rec.Flushed {
		t.Error("the events were not flushed")
	}
}
