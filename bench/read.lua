-- W3: GET /clients of existing clients 1..CLIENTS.
function init(args)
  clients = tonumber(args[1])
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
end
function request()
  -- Headers given here replace wrk.headers, so the key goes in again.
  return wrk.format("GET", "/clients", {
    ["Authorization"] = "Bearer secure-api-key",
    ["X-Client-Id"] = tostring(math.random(1, clients)),
  })
end
