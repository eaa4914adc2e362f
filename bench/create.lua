-- W1: PUT /clients of distinct clients; each wrk thread takes its own id range.
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  base = (tid + 1) * 10000000
  n = 0
  wrk.headers["Authorization"] = "Bearer secure-api-key"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  n = n + 1
  local id = base + n
  return wrk.format("PUT", "/clients", nil, '{"client_id":' .. id .. ',"info":{"Name":"Bench ' .. id .. '","Location":"Gate 1"}}')
end
