module github.com/soc/mcasbot

go 1.26.8

require (
	github.com/patrickmn/go-cache v2.1.0+incompatible
	golang.org/x/sync v0.24.0
)

require (
	github.com/gorilla/websocket v1.5.3 // indirect
	github.com/slack-go/slack v0.35.0 // indirect
)
