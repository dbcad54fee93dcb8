package slackfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack/slacktest"
)

// File is a file the bot uploaded and shared, with its bytes.
type File struct {
	ID, Name, Title, AltText string
	Channel, Thread          string
	Comment                  string
	Bytes                    []byte
}

// extras is the fake's state for file uploads and user lookups.
type extras struct {
	uploads     map[string]*File // file id -> upload in progress
	files       []File           // completed and shared
	fileFail    map[string][]string
	users       map[string]string // e-mail -> user id
	noEmailRead bool
	lookups     int
}

func (s *Server) addExtras(c slacktest.Customize) {
	s.x = extras{uploads: map[string]*File{}, fileFail: map[string][]string{}, users: map[string]string{}}
	c.Handle("/files.getUploadURLExternal", s.getUploadURL)
	c.Handle("/upload/", s.upload)
	c.Handle("/files.completeUploadExternal", s.completeUpload)
	c.Handle("/users.lookupByEmail", s.lookupByEmail)
}

// FailUpload makes the next call of one upload step fail: step is
// "files.getUploadURLExternal" or "files.completeUploadExternal" (answered
// with the Slack error slackErr) or "upload" (the POST of the bytes,
// answered with HTTP 500).
func (s *Server) FailUpload(step, slackErr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.fileFail[step] = append(s.x.fileFail[step], slackErr)
}

func (s *Server) takeFileFail(step string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.x.fileFail[step]
	if len(q) == 0 {
		return "", false
	}
	s.x.fileFail[step] = q[1:]
	return q[0], true
}

// Files returns every file shared, in order.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.x.files)
}

func (s *Server) getUploadURL(w http.ResponseWriter, r *http.Request) {
	if e, ok := s.takeFileFail("files.getUploadURLExternal"); ok {
		writeJSON(w, map[string]any{"ok": false, "error": e})
		return
	}
	_ = r.ParseForm()
	name := r.PostForm.Get("filename")
	length, err := strconv.Atoi(r.PostForm.Get("length"))
	if name == "" || err != nil || length <= 0 {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_arguments"})
		return
	}
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("F%07d", s.seq)
	s.x.uploads[id] = &File{ID: id, Name: name, AltText: r.PostForm.Get("alt_txt"), Bytes: nil}
	s.mu.Unlock()
	// The declared length travels in the URL so the upload can check it.
	writeJSON(w, map[string]any{"ok": true, "upload_url": s.GetAPIURL() + "upload/" + id + "?length=" + strconv.Itoa(length), "file_id": id})
}

// upload takes the bytes as Slack's upload URL does: a multipart form
// (slack-go) or a raw body, answered in plain text.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.takeFileFail("upload"); ok {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	id := strings.TrimPrefix(r.URL.Path, "/upload/")
	var data []byte
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		f, _, ferr := r.FormFile("file")
		if ferr != nil {
			http.Error(w, "no file", http.StatusBadRequest)
			return
		}
		data, err = io.ReadAll(f)
		_ = f.Close()
	} else {
		data, err = io.ReadAll(r.Body)
	}
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	want, _ := strconv.Atoi(r.URL.Query().Get("length"))
	s.mu.Lock()
	up, ok := s.x.uploads[id]
	if ok {
		up.Bytes = data
	}
	s.mu.Unlock()
	if !ok || len(data) != want {
		http.Error(w, fmt.Sprintf("bad upload: %d bytes, %d declared", len(data), want), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = fmt.Fprintf(w, "OK - %d", len(data))
}

func (s *Server) completeUpload(w http.ResponseWriter, r *http.Request) {
	if e, ok := s.takeFileFail("files.completeUploadExternal"); ok {
		writeJSON(w, map[string]any{"ok": false, "error": e})
		return
	}
	_ = r.ParseForm()
	var files []struct{ ID, Title string }
	if err := json.Unmarshal([]byte(r.PostForm.Get("files")), &files); err != nil || len(files) == 0 {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_arguments"})
		return
	}
	channel, thread := r.PostForm.Get("channel_id"), r.PostForm.Get("thread_ts")
	if channel == "" && thread != "" {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_thread_ts"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.outsideOf(channel) {
		writeJSON(w, map[string]any{"ok": false, "error": "not_in_channel"})
		return
	}
	var out []map[string]string
	for _, f := range files {
		up, ok := s.x.uploads[f.ID]
		if !ok || up.Bytes == nil {
			writeJSON(w, map[string]any{"ok": false, "error": "file_not_found"})
			return
		}
		delete(s.x.uploads, f.ID)
		done := *up
		done.Title, done.Channel, done.Thread, done.Comment = f.Title, channel, thread, r.PostForm.Get("initial_comment")
		s.x.files = append(s.x.files, done)
		out = append(out, map[string]string{"id": f.ID, "title": f.Title})
	}
	s.cond.Broadcast()
	writeJSON(w, map[string]any{"ok": true, "files": out})
}

// WaitFiles waits until n files were shared.
func (s *Server) WaitFiles(n int, timeout time.Duration) ([]File, error) {
	err := s.wait(timeout, func() bool { return len(s.x.files) >= n }, fmt.Sprintf("%d files", n))
	return s.Files(), err
}

// AddUser makes a Slack user findable by e-mail (users.lookupByEmail).
func (s *Server) AddUser(id, email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.users[strings.ToLower(email)] = id
}

// DenyEmailLookup makes users.lookupByEmail answer missing_scope, as for
// a token without users:read.email.
func (s *Server) DenyEmailLookup(deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x.noEmailRead = deny
}

// Lookups counts users.lookupByEmail calls.
func (s *Server) Lookups() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.x.lookups
}

func (s *Server) lookupByEmail(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	s.mu.Lock()
	s.x.lookups++
	deny := s.x.noEmailRead
	id, ok := s.x.users[strings.ToLower(r.PostForm.Get("email"))]
	s.mu.Unlock()
	switch {
	case deny:
		writeJSON(w, map[string]any{"ok": false, "error": "missing_scope", "needed": "users:read.email", "provided": "commands,chat:write"})
	case !ok:
		writeJSON(w, map[string]any{"ok": false, "error": "users_not_found"})
	default:
		writeJSON(w, map[string]any{"ok": true, "user": map[string]any{"id": id, "team_id": "T0SOC", "name": strings.ToLower(id),
			"deleted": false, "profile": map[string]any{"email": r.PostForm.Get("email")}}})
	}
}
