-- W2: PUT /clients/zones on existing clients 1..CLIENTS.
function init(args)
  clients = tonumber(args[1])
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
  wrk.headers["Authorization"] = "Bearer secure-api-key"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  local id = math.random(1, clients)
  local zone = math.random(1, 999)
  return wrk.format("PUT", "/clients/zones", nil, '{"client_id":' .. id .. ',"zone_id":' .. zone .. ',"Zone_area":"Sone ' .. zone .. '"}')
end
