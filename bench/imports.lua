-- W5: GET /clients/imports, a page of 100 starting at a random client of 1..CLIENTS, with the
-- query given (for instance "status=failed").
function init(args)
  clients = tonumber(args[1])
  query = args[2] or ""
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
end
function request()
  local path = "/clients/imports?limit=100&after=" .. tostring(math.random(1, clients - 100))
  if query ~= "" then path = path .. "&" .. query end
  return wrk.format("GET", path, { ["Authorization"] = "Bearer secure-api-key" })
end
