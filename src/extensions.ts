// Every extension remora ships, registered by importing its config.ts.
import './filters/network/http_connection_manager/config';
import './filters/network/tcp_proxy/config';
import './filters/http/router/config';
import './access_loggers';
import './filters/network/istio/config';
import './filters/http/istio/config';
