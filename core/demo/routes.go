package demo

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// routes builds the handler. Patterns carry no method so that a wrong method
// gets a 405 OperationOutcome instead of ServeMux's plain-text answer.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeOutcome(w, http.StatusNotFound, "not-found", "no such endpoint: "+r.URL.Path)
	})
	mux.HandleFunc("/.well-known/smart-configuration", methods(s.handleSMARTConfig, "GET"))
	mux.HandleFunc(fhirPath+"/.well-known/smart-configuration", methods(s.handleSMARTConfig, "GET"))
	mux.HandleFunc(fhirPath+"/metadata", methods(s.handleMetadata, "GET"))
	mux.HandleFunc(tokenPath, methods(s.handleToken, "POST"))
	mux.HandleFunc(registerPath, methods(s.handleRegister, "POST"))
	mux.HandleFunc(fhirPath+"/$export", methods(s.handleKickoff(levelSystem), "GET", "POST"))
	mux.HandleFunc(fhirPath+"/Patient/$export", methods(s.handleKickoff(levelPatient), "GET", "POST"))
	mux.HandleFunc(fhirPath+"/Group/{id}/$export", methods(s.handleKickoff(levelGroup), "GET", "POST"))
	mux.HandleFunc(fhirPath+"/Group/{id}", methods(s.handleGroupRead, "GET"))
	mux.HandleFunc(fhirPath+"/Group", methods(s.handleGroupSearch, "GET"))
	mux.HandleFunc(jobsPath+"{id}", methods(s.handleJob, "GET", "DELETE"))
	mux.HandleFunc(filesPath+"{job}/{name}", methods(s.handleFile, "GET", "HEAD"))
	return s.logged(s.checkHost(mux))
}

// Where jobs and their files live. Ids in both are 128-bit random hex.
const (
	jobsPath  = fhirPath + "/bulkstatus/"
	filesPath = fhirPath + "/bulkfiles/"
)

func methods(h http.HandlerFunc, allowed ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for _, m := range allowed {
			if r.Method == m {
				h(w, r)
				return
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeOutcome(w, http.StatusMethodNotAllowed, "not-supported", "method "+r.Method+" not allowed here")
	}
}

type ctxKey int

const reqInfoKey ctxKey = 0

// reqInfo collects what the log line needs to know from inside handlers.
type reqInfo struct{ clientID string }

func setClientID(r *http.Request, id string) {
	if ri, ok := r.Context().Value(reqInfoKey).(*reqInfo); ok {
		ri.clientID = id
	}
}

// statusWriter records the status code a handler writes.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// logged logs every request (never its headers: they carry tokens) and
// reports it to Config.OnRequest.
func (s *Server) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start, began := s.now(), time.Now()
		ri := &reqInfo{}
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey, ri))
		defer func() {
			rec := recover()
			status := sw.status
			if rec != nil {
				status = 0 // connection dropped on purpose (fault) or a bug
			}
			entry := RequestLog{Time: start, Method: r.Method, Path: r.URL.Path, Status: status,
				Duration: time.Since(began), ClientID: ri.clientID}
			s.logger.Debug("request", "method", entry.Method, "path", entry.Path, "status", entry.Status,
				"client", entry.ClientID, "duration", entry.Duration)
			if s.cfg.OnRequest != nil {
				s.cfg.OnRequest(entry)
			}
			if rec != nil {
				panic(rec)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}
