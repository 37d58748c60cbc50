-- wrk script: POST `tools/call add` to an MCP Streamable HTTP endpoint and
-- check every answer.
--
--   wrk -s mcp_call.lua http://127.0.0.1:PORT/mcp -- modern
--   wrk -s mcp_call.lua http://127.0.0.1:PORT/mcp -- legacy SESSION_ID
--
-- Era and session may also come from the environment (MCP_ERA,
-- MCP_SESSION_ID). An empty session id sends no Mcp-Session-Id header
-- (for servers running legacy requests in stateless mode).
--
-- Request ids are unique per thread: id = tid * ID_SPAN + n, with a = id and
-- b = id % 1009, so the expected sum follows from the id alone and answers
-- may arrive in any order across a thread's connections.
--
-- done() prints one line the harness parses:
--   MCPCHECK ok=N bad_status=N bad_body=N connect=N read=N write=N timeout=N
-- followed, when something failed, by `MCPFIRSTBAD <status> <body prefix>`.

local ID_SPAN = 10000000
local MODERN = "2026-07-28"
local LEGACY = "2025-11-25"

local threads = {}
local next_tid = 0

-- Main Lua state: runs once per thread before init(). Counters live in each
-- thread's own Lua state; done() collects them through these handles.
function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

-- Per-thread state from here on.
local headers, body_fmt, base
local counter = 0

function init(args)
   local era = args[1] or os.getenv("MCP_ERA") or "modern"
   local session = args[2] or os.getenv("MCP_SESSION_ID") or ""
   ok, bad_status, bad_body, first_bad = 0, 0, 0, ""
   base = tid * ID_SPAN
   headers = {
      ["Host"] = wrk.headers["Host"] or (wrk.host .. ":" .. wrk.port),
      ["Content-Type"] = "application/json",
      ["Accept"] = "application/json, text/event-stream",
   }
   -- MCP_AUTHORIZATION: a credential every request carries ("Bearer <token>"), for the authenticated runs.
   local authorization = os.getenv("MCP_AUTHORIZATION")
   if authorization and authorization ~= "" then headers["Authorization"] = authorization end
   if era == "modern" then
      headers["MCP-Protocol-Version"] = MODERN
      headers["Mcp-Method"] = "tools/call"
      headers["Mcp-Name"] = "add"
      body_fmt = '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"add",'
         .. '"arguments":{"a":%d,"b":%d},"_meta":{"io.modelcontextprotocol/protocolVersion":"'
         .. MODERN .. '","io.modelcontextprotocol/clientCapabilities":{}}}}'
   elseif era == "legacy" then
      headers["MCP-Protocol-Version"] = LEGACY
      if session ~= "" then headers["Mcp-Session-Id"] = session end
      body_fmt = '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"add",'
         .. '"arguments":{"a":%d,"b":%d}}}'
   else
      error("era must be 'modern' or 'legacy', got " .. tostring(era))
   end
end

function request()
   counter = counter + 1
   local id = base + counter
   -- string.format("%d") keeps large doubles out of exponent notation.
   return wrk.format("POST", nil, headers, string.format(body_fmt, id, id, id % 1009))
end

-- The JSON-RPC message carrying the answer: the whole body when the server
-- answered application/json, else the SSE event whose data has an "id".
local function answer_of(body)
   if body:match("^%s*{") then return body end
   for event in (body .. "\n\n"):gmatch("(.-)\r?\n\r?\n") do
      local data = {}
      for line in (event .. "\n"):gmatch("(.-)\r?\n") do
         local d = line:match("^data: ?(.*)$")
         if d then table.insert(data, d) end
      end
      local msg = table.concat(data, "\n")
      if msg:find('"id"%s*:') then return msg end
   end
   return nil
end

local function check(body)
   local msg = answer_of(body)
   if not msg then return false end
   if msg:find('"error"%s*:') or msg:find('"isError"%s*:%s*true') then return false end
   local id = tonumber(msg:match('"id"%s*:%s*(%d+)'))
   if not id or id <= base or id > base + counter then return false end
   local want = id + id % 1009
   local text = tonumber(msg:match('"text"%s*:%s*"(%-?%d+)"'))
   if text ~= want then return false end
   local sc = msg:match('"structuredContent"%s*:%s*{%s*"result"%s*:%s*(%-?%d+)')
   return sc == nil or tonumber(sc) == want
end

function response(status, hdrs, body)
   if status ~= 200 then
      bad_status = bad_status + 1
   elseif not check(body or "") then
      bad_body = bad_body + 1
   else
      ok = ok + 1
      return
   end
   if first_bad == "" then
      first_bad = status .. " " .. (body or ""):sub(1, 300):gsub("[\r\n]+", " ")
   end
end

function done(summary, latency, requests)
   local t = { ok = 0, bad_status = 0, bad_body = 0 }
   local first = ""
   for _, thread in ipairs(threads) do
      for k in pairs(t) do t[k] = t[k] + (thread:get(k) or 0) end
      if first == "" then first = thread:get("first_bad") or "" end
   end
   local e = summary.errors
   io.write(string.format(
      "MCPCHECK ok=%d bad_status=%d bad_body=%d connect=%d read=%d write=%d timeout=%d\n",
      t.ok, t.bad_status, t.bad_body, e.connect, e.read, e.write, e.timeout))
   if first ~= "" then io.write("MCPFIRSTBAD " .. first .. "\n") end
end
